// The engine's request path without gRPC: deadlines, backpressure, exactly one answer.
#include "core/explainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>

#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Explainer> Start(int queue) {
  return xai::testing::StartExplainer(xai::testing::FixtureRepo(), queue);
}

ClassifyRequest TensorRequest(const std::string& model, const std::string& data, int side) {
  ClassifyRequest request;
  request.model = {model, 0};
  request.image.kind = ImageRef::Kind::kTensor;
  request.image.tensor_shape = {3, side, side};
  request.image.tensor_data = data;
  return request;
}

TEST(ExplainerTest, DeadlinePassedInTheQueueIsNotRun) {
  auto explainer = Start(8);
  const std::string data(3 * 16 * 16 * 4, '\0');
  ClassifyRequest request = TensorRequest("tiny", data, 16);
  request.context.deadline = Clock::now() - std::chrono::milliseconds(1);
  const auto result = xai::testing::ClassifyAndWait(*explainer, request);
  EXPECT_EQ(result.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(result.status().message(), HasSubstr("while queued"));
}

TEST(ExplainerTest, DescribeModelErrorsUseTheRepositoryCodes) {
  auto explainer = Start(8);
  EXPECT_EQ(explainer->DescribeModel({"nope", 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(explainer->DescribeModel({"wrong_output", 0}).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(explainer->DescribeModel({"a/b", 0}).status().code(), StatusCode::kInvalidArgument);
  auto shapes = explainer->DescribeModel({"shapes", 0});
  ASSERT_TRUE(shapes.ok()) << shapes.status().ToString();
  EXPECT_EQ(shapes->default_cam_layer, "stage4");
  EXPECT_EQ(shapes->labels,
            (std::vector<std::string>{"circle", "square", "triangle", "star", "cross"}));
}

TEST(ExplainerTest, StatisticsCountEveryRequestPerMethod) {
  auto explainer = Start(8);
  const std::string small(3 * 16 * 16 * 4, '\0');
  std::vector<float> huge(3 * 16 * 16, 1000.0f);  // flaky's forward refuses a mean > 100
  const std::string flaky_input(reinterpret_cast<const char*>(huge.data()), huge.size() * 4);
  auto classify = [&](const std::string& model, const std::string& data) {
    return xai::testing::ClassifyAndWait(*explainer, TensorRequest(model, data, 16)).status();
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(classify("tiny", small).ok());
  EXPECT_EQ(classify("flaky", flaky_input).code(), StatusCode::kInternal);
  GradCamRequest cam;
  cam.model = {"tiny", 0};
  cam.image = TensorRequest("tiny", small, 16).image;
  ASSERT_TRUE(xai::testing::GradCamAndWait(*explainer, cam).ok());

  auto tiny = explainer->Statistics({"tiny", 0});
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  ASSERT_EQ(tiny->size(), 1u);
  const auto& methods = (*tiny)[0].methods;
  ASSERT_TRUE(methods.count("Classify") && methods.count("GradCAM"));
  const MethodStatistics& c = methods.at("Classify");
  EXPECT_EQ(c.success_count, 3u);
  EXPECT_EQ(c.failure_count, 0u);
  EXPECT_GT(c.compute_ns, 0u);
  EXPECT_EQ(c.total_ns, c.queue_ns + c.compute_ns);
  EXPECT_EQ(c.batch_size_counts, (std::map<int, uint64_t>{{1, 3}}));
  EXPECT_EQ(methods.at("GradCAM").success_count, 1u);

  auto flaky = explainer->Statistics({"flaky", 1});
  ASSERT_TRUE(flaky.ok());
  EXPECT_EQ((*flaky)[0].methods.at("Classify").failure_count, 1u);

  auto all = explainer->Statistics({"", 0});
  ASSERT_TRUE(all.ok());
  EXPECT_GE(all->size(), 5u);  // every READY model, served or not
  EXPECT_EQ(explainer->Statistics({"nope", 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(explainer->Statistics({"bad_labels", 0}).status().code(), StatusCode::kUnavailable);
}

// An image for flaky ([3,16,16]) whose every value is `value`: its mean picks the fault.
std::string Filled(float value) {
  std::vector<float> values(3 * 16 * 16, value);
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

TEST(ExplainerTest, AModelThatFailsAtRunTimeAnswersInternalWithTheFaultAndServesOn) {
  auto explainer = Start(8);
  struct Fault {
    float value;
    const char* message;
  };
  for (const Fault& fault :
       {Fault{1000, "flaky model refuses inputs with mean > 100"}, Fault{45, "returned [1, 7]"},
        Fault{35, "memory"}, Fault{25, "returned NaN logits"},
        Fault{15, "returned infinite logits"}}) {
    const std::string input = Filled(fault.value);  // requests point at it
    for (const std::string model : {"flaky"}) {     // flaky_batched: the next test
      const auto classified =
          xai::testing::ClassifyAndWait(*explainer, TensorRequest(model, input, 16));
      EXPECT_EQ(classified.status().code(), StatusCode::kInternal) << fault.value;
      EXPECT_THAT(classified.status().message(), HasSubstr(fault.message)) << fault.value;
      GradCamRequest cam;
      cam.model = {model, 0};
      cam.image = TensorRequest(model, input, 16).image;
      const auto explained = xai::testing::GradCamAndWait(*explainer, cam);
      EXPECT_EQ(explained.status().code(), StatusCode::kInternal)
          << fault.value << ": " << explained.status().ToString();
    }
    // Nothing else degrades: the same model answers a good input next.
    EXPECT_TRUE(
        xai::testing::ClassifyAndWait(*explainer, TensorRequest("flaky", Filled(1), 16)).ok());
  }
}

TEST(ExplainerTest, ANonFiniteSampleFailsItselfOnlyInItsBatch) {
  auto explainer = Start(8);
  // flaky_batched waits up to 2 s to fill a batch: the two calls share one forward. The
  // requests point at their bytes, which live until the answers.
  const std::string nan_input = Filled(25), good_input = Filled(1);
  std::promise<StatusOr<ClassifyResult>> nan_done, good_done;
  explainer->Classify(TensorRequest("flaky_batched", nan_input, 16),
                      [&](StatusOr<ClassifyResult> r) { nan_done.set_value(std::move(r)); });
  explainer->Classify(TensorRequest("flaky_batched", good_input, 16),
                      [&](StatusOr<ClassifyResult> r) { good_done.set_value(std::move(r)); });
  const auto nan = nan_done.get_future().get();
  const auto good = good_done.get_future().get();
  EXPECT_EQ(nan.status().code(), StatusCode::kInternal);
  EXPECT_THAT(nan.status().message(), HasSubstr("NaN logits"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->classes.size(), 4u);
  auto stats = explainer->Statistics({"flaky_batched", 0});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[0].methods.at("Classify").batch_size_counts.count(2), 1u);
}

TEST(ExplainerTest, RefusesAfterShutdown) {
  auto explainer = Start(8);
  explainer->Shutdown();
  const std::string data(3 * 16 * 16 * 4, '\0');
  EXPECT_EQ(
      xai::testing::ClassifyAndWait(*explainer, TensorRequest("tiny", data, 16)).status().code(),
      StatusCode::kUnavailable);
}

}  // namespace
}  // namespace xai::core
