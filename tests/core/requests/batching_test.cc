// Dynamic batching: a batched Grad-CAM gives every sample the maps it gets alone, a batch
// never mixes up whose answer is whose, a failing model fails its batch only, and
// requests dropped while queued (deadline, cancellation) never run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

#include "core/explainer.h"
#include "core/methods/cam/grad_cam.h"
#include "core/runtime/model_pool.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

constexpr float kBatchTolerance = 1e-5f;

float MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<float>();
}

// The raw maps are not normalised: compared relative to their largest value.
float MaxRelDiff(const at::Tensor& a, const at::Tensor& b) {
  const float scale = std::max(a.abs().max().item<float>(), 1e-12f);
  return MaxAbsDiff(a, b) / scale;
}

std::string Bytes(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float));
}

std::unique_ptr<ModelPool> LoadPool(const std::string& model, int max_batch) {
  ModelPoolOptions options;
  options.model_path = xai::testing::FixtureRepo() + "/" + model + "/1/model.pt";
  options.display_name = model;
  options.instance_groups = {{{"cpu"}, 1}};
  options.input_shape = {3, 224, 224};
  options.max_batch_size = max_batch;
  auto pool = ModelPool::Create(options);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? std::move(*pool) : nullptr;
}

struct BatchCase {
  const char* model;
  std::vector<std::string> layers;
  size_t cut;
};

class GradCamBatchTest : public ::testing::TestWithParam<BatchCase> {};

TEST_P(GradCamBatchTest, EverySampleGetsTheMapsItGetsAlone) {
  const BatchCase& c = GetParam();
  auto pool = LoadPool(c.model, 4);
  ASSERT_NE(pool, nullptr);
  at::manual_seed(11);
  const at::Tensor input = at::randn({4, 3, 224, 224});
  // Different targets per sample, several for some, none (the top-1) for others.
  const std::vector<std::vector<int>> targets = {{}, {1, 7, 500}, {3}, {999, 0}};
  int compared = 0;
  const CamMethod methods[] = {CamMethod::kGradCam,     CamMethod::kGradCamPlusPlus,
                               CamMethod::kXGradCam,    CamMethod::kHiResCam,
                               CamMethod::kLayerCam,    CamMethod::kEigenCam,
                               CamMethod::kEigenGradCam};
  for (CamMethod method : methods) {
    SCOPED_TRACE(std::string(c.model) + " " + std::string(CamMethodName(method)));
    GradCamSpec spec;
    spec.layers = c.layers;
    spec.cut = c.cut;
    spec.method = method;
    spec.height = 224;
    spec.width = 224;
    auto instance = pool->Acquire();
    ASSERT_TRUE(instance.ok());
    auto batched = RunGradCamBatch(*instance, input, spec, targets);
    ASSERT_TRUE(batched.ok()) << batched.status().ToString();
    ASSERT_EQ(batched->size(), 4u);
    for (int b = 0; b < 4; ++b) {
      spec.targets = targets[b];
      auto alone = RunGradCam(*instance, input.slice(0, b, b + 1), spec);
      ASSERT_TRUE(alone.ok()) << alone.status().ToString();
      const GradCamOutput& together = (*batched)[b];
      EXPECT_LE(MaxRelDiff(alone->logits, together.logits), kBatchTolerance) << "sample " << b;
      ASSERT_EQ(together.explanations.size(), alone->explanations.size()) << "sample " << b;
      for (size_t t = 0; t < alone->explanations.size(); ++t) {
        EXPECT_EQ(together.explanations[t].target, alone->explanations[t].target);
        EXPECT_LE(MaxAbsDiff(together.explanations[t].cam, alone->explanations[t].cam),
                  kBatchTolerance)
            << "sample " << b << " target " << alone->explanations[t].target;
        EXPECT_LE(MaxRelDiff(together.explanations[t].raw, alone->explanations[t].raw),
                  kBatchTolerance)
            << "sample " << b << " target " << alone->explanations[t].target;
        EXPECT_GT(alone->explanations[t].cam.max().item<float>(), 0.0f);  // not vacuous
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, static_cast<int>(std::size(methods)) * 7);
}

INSTANTIATE_TEST_SUITE_P(Models, GradCamBatchTest,
                         ::testing::Values(BatchCase{"resnet18", {"layer4"}, 0},
                                           BatchCase{"resnet18_scripted", {"layer4", "layer2"}, 1}),
                         [](const ::testing::TestParamInfo<BatchCase>& info) {
                           return std::string(info.param.model) + "_" +
                                  std::to_string(info.param.layers.size()) + "layers";
                         });

// ------------------------------------------------------------------ through the Explainer

class ExplainerBatchingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    explainer_ = xai::testing::StartExplainer(xai::testing::FixtureRepo()).release();
    ASSERT_NE(explainer_, nullptr);
  }
  static void TearDownTestSuite() { delete explainer_; }

  // n distinct 16x16 inputs, seeded.
  static std::vector<std::string> DistinctInputs(int n, float scale = 1.0f) {
    at::manual_seed(5);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(Bytes(at::randn({3, 16, 16}) * scale + 0.3f * i));
    return out;
  }

  static ImageRef Tensor16(const std::string& data) {
    return xai::testing::TensorImage(data, {3, 16, 16});
  }

  // Sends every request before waiting for any, so that a batcher sees them together.
  template <typename Request, typename Result, typename Send>
  static std::vector<StatusOr<Result>> SendAll(const std::vector<Request>& requests, Send send) {
    std::vector<StatusOr<Result>> results(requests.size(), InternalError("no answer"));
    std::vector<int> answers(requests.size(), 0);
    std::mutex mu;
    std::atomic<size_t> remaining{requests.size()};
    std::promise<void> all;
    for (size_t i = 0; i < requests.size(); ++i) {
      send(requests[i], [&, i](StatusOr<Result> r) {
        {
          std::lock_guard<std::mutex> lock(mu);
          results[i] = std::move(r);
          ++answers[i];
        }
        if (--remaining == 0) all.set_value();
      });
    }
    EXPECT_EQ(all.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(answers[i], 1) << "request " << i;
    return results;
  }

  static std::map<int, uint64_t> BatchSizes(const std::string& model, const std::string& method) {
    auto statistics = explainer_->Statistics({model, 0});
    EXPECT_TRUE(statistics.ok());
    const auto& methods = (*statistics)[0].methods;
    return methods.count(method) ? methods.at(method).batch_size_counts : std::map<int, uint64_t>{};
  }

  static Explainer* explainer_;
};

Explainer* ExplainerBatchingTest::explainer_ = nullptr;

TEST_F(ExplainerBatchingTest, ClassifyBatchNeverMixesUpWhoseAnswerIsWhose) {
  const auto inputs = DistinctInputs(8);
  std::vector<ClassifyRequest> requests;
  for (const std::string& data : inputs) {
    ClassifyRequest request;
    request.model = {"tiny_batched", 0};
    request.image = Tensor16(data);
    request.top_k = 3;
    requests.push_back(request);
  }
  const auto before = BatchSizes("tiny_batched", "Classify");
  const auto batched = SendAll<ClassifyRequest, ClassifyResult>(
      requests, [](const ClassifyRequest& r, Explainer::Callback<ClassifyResult> done) {
        explainer_->Classify(r, std::move(done));
      });
  auto after = BatchSizes("tiny_batched", "Classify");
  EXPECT_EQ(after[8], (before.count(8) ? before.at(8) : 0u) + 1)
      << "the 8 requests did not run as one batch";
  std::set<float> distinct;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(batched[i].ok()) << batched[i].status().ToString();
    ClassifyRequest alone = requests[i];
    alone.model = {"tiny", 0};  // same weights, no batcher
    const auto expected = xai::testing::ClassifyAndWait(*explainer_, alone);
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(batched[i]->classes.size(), expected->classes.size());
    for (size_t k = 0; k < expected->classes.size(); ++k) {
      EXPECT_EQ(batched[i]->classes[k].index, expected->classes[k].index) << "request " << i;
      EXPECT_NEAR(batched[i]->classes[k].probability, expected->classes[k].probability,
                  kBatchTolerance)
          << "request " << i;
    }
    EXPECT_EQ(batched[i]->model.name, "tiny_batched");
    distinct.insert(batched[i]->classes[0].probability);
  }
  EXPECT_EQ(distinct.size(), inputs.size()) << "inputs too alike to tell a mix-up";
}

TEST_F(ExplainerBatchingTest, GradCamBatchGivesEachRequestItsOwnMapsAndTargets) {
  const auto inputs = DistinctInputs(8);
  std::vector<GradCamRequest> requests;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GradCamRequest request;
    request.model = {"tiny_batched", 0};
    request.image = Tensor16(inputs[i]);
    if (i % 3 != 0) request.target_classes = {static_cast<int>(i % 3), 0};
    requests.push_back(request);
  }
  const auto batched = SendAll<GradCamRequest, GradCamResult>(
      requests, [](const GradCamRequest& r, Explainer::Callback<GradCamResult> done) {
        explainer_->GradCam(r, std::move(done));
      });
  EXPECT_GE(BatchSizes("tiny_batched", "GradCAM")[8], 1u);
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(batched[i].ok()) << batched[i].status().ToString();
    GradCamRequest alone = requests[i];
    alone.model = {"tiny", 0};
    const auto expected = xai::testing::GradCamAndWait(*explainer_, alone);
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(batched[i]->explanations.size(), expected->explanations.size()) << "request " << i;
    for (size_t t = 0; t < expected->explanations.size(); ++t) {
      const CamExplanation& got = batched[i]->explanations[t];
      const CamExplanation& want = expected->explanations[t];
      EXPECT_EQ(got.target_class, want.target_class);
      ASSERT_EQ(got.cam.data.size(), want.cam.data.size());
      float worst = 0;
      for (size_t p = 0; p < want.cam.data.size(); ++p) {
        worst = std::max(worst, std::abs(got.cam.data[p] - want.cam.data[p]));
      }
      EXPECT_LE(worst, kBatchTolerance) << "request " << i << " target " << want.target_class;
    }
  }
}

TEST_F(ExplainerBatchingTest, AModelThatThrowsFailsItsBatchOnlyAndStaysUsable) {
  std::vector<float> huge(3 * 16 * 16, 1000.0f);  // flaky's forward refuses a batch mean > 100
  const std::string bad(reinterpret_cast<const char*>(huge.data()), huge.size() * sizeof(float));
  const auto good = DistinctInputs(4);
  auto batch = [&](bool with_bad) {
    std::vector<ClassifyRequest> requests;
    for (int i = 0; i < 4; ++i) {
      ClassifyRequest request;
      request.model = {"flaky_batched", 0};
      request.image = Tensor16(with_bad && i == 2 ? bad : good[i]);
      requests.push_back(request);
    }
    return SendAll<ClassifyRequest, ClassifyResult>(
        requests, [](const ClassifyRequest& r, Explainer::Callback<ClassifyResult> done) {
          explainer_->Classify(r, std::move(done));
        });
  };
  for (const auto& result : batch(/*with_bad=*/true)) {
    EXPECT_EQ(result.status().code(), StatusCode::kInternal);
    EXPECT_THAT(result.status().message(), HasSubstr("flaky model refuses inputs"));
  }
  for (const auto& result : batch(/*with_bad=*/false)) {
    EXPECT_TRUE(result.ok()) << result.status().ToString();
  }
  EXPECT_EQ(BatchSizes("flaky_batched", "Classify")[4], 2u);
}

// resnet18 has one instance and no batcher: while one request runs (~0.1 s here), the
// next waits in the queue.
ClassifyRequest Resnet18Request(const std::string& data) {
  ClassifyRequest request;
  request.model = {"resnet18", 0};
  request.image = xai::testing::TensorImage(data, {3, 224, 224});
  return request;
}

TEST_F(ExplainerBatchingTest, DeadlineOrCancellationWhileQueuedAnswersWithoutRunning) {
  const std::string data(3 * 224 * 224 * 4, '\0');
  std::atomic<bool> cancel{false};
  std::vector<ClassifyRequest> requests(3, Resnet18Request(data));
  requests[1].context.deadline = Clock::now() + std::chrono::milliseconds(1);
  requests[2].context.cancelled = [&cancel] { return cancel.load(); };
  const auto before = explainer_->Statistics({"resnet18", 0});
  ASSERT_TRUE(before.ok());
  const auto results = SendAll<ClassifyRequest, ClassifyResult>(
      requests, [&](const ClassifyRequest& r, Explainer::Callback<ClassifyResult> done) {
        explainer_->Classify(r, std::move(done));
        if (&r == &requests.back()) cancel = true;  // queued, while the first runs
      });
  EXPECT_TRUE(results[0].ok()) << results[0].status().ToString();
  EXPECT_EQ(results[1].status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(results[1].status().message(), HasSubstr("while queued"));
  EXPECT_EQ(results[2].status().code(), StatusCode::kCancelled);
  const auto after = explainer_->Statistics({"resnet18", 0});
  ASSERT_TRUE(after.ok());
  auto count = [](const std::vector<ModelStatisticsEntry>& s, int batch) {
    const auto& methods = s[0].methods;
    if (!methods.count("Classify")) return uint64_t{0};
    const auto& counts = methods.at("Classify").batch_size_counts;
    return counts.count(batch) ? counts.at(batch) : uint64_t{0};
  };
  EXPECT_EQ(count(*after, 1) - count(*before, 1), 1u) << "a dropped request ran";
}

TEST_F(ExplainerBatchingTest, ABurstOfTenTimesTheQueueGetsCorrectAnswersOrResourceExhausted) {
  auto small_queue =
      xai::testing::StartExplainer(xai::testing::FixtureRepo(), /*queue_capacity=*/4);
  ASSERT_NE(small_queue, nullptr);
  at::manual_seed(3);
  const std::string data = Bytes(at::randn({3, 224, 224}));
  const auto expected = xai::testing::ClassifyAndWait(*small_queue, Resnet18Request(data));
  ASSERT_TRUE(expected.ok());
  const std::vector<ClassifyRequest> burst(40, Resnet18Request(data));
  const auto results = SendAll<ClassifyRequest, ClassifyResult>(
      burst, [&](const ClassifyRequest& r, Explainer::Callback<ClassifyResult> done) {
        small_queue->Classify(r, std::move(done));
      });
  int ok = 0, refused = 0;
  for (const auto& result : results) {
    if (result.ok()) {
      ++ok;
      EXPECT_EQ(result->classes[0].index, expected->classes[0].index);
      EXPECT_NEAR(result->classes[0].probability, expected->classes[0].probability, 1e-6);
    } else {
      ++refused;
      EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted);
      EXPECT_THAT(result.status().message(), HasSubstr("queue full"));
    }
  }
  EXPECT_GE(ok, 4);        // the four queued (and the one running, if it started in time)
  EXPECT_GE(refused, 30);  // refused at once, not after waiting
  EXPECT_EQ(ok + refused, 40);
}

}  // namespace
}  // namespace xai::core
