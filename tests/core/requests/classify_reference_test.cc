// Classify probabilities against eager PyTorch on the same TorchScript files
// (tools/make_fixtures.py writes the references), for tensor and encoded input.
#include <gtest/gtest.h>

#include <numeric>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

constexpr float kTolerance = 1e-4f;

class ClassifyReferenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    explainer_ = xai::testing::StartExplainer(xai::testing::FixtureRepo()).release();
    ASSERT_NE(explainer_, nullptr);
  }
  static void TearDownTestSuite() { delete explainer_; }

  static StatusOr<ClassifyResult> Run(ClassifyRequest request) {
    return xai::testing::ClassifyAndWait(*explainer_, std::move(request));
  }

  // Checks the top-5 against the reference probabilities `expected` (all classes).
  static void ExpectMatches(const ClassifyResult& result, const std::vector<float>& expected) {
    ASSERT_EQ(expected.size(), 1000u);
    ASSERT_EQ(result.classes.size(), 5u);
    std::vector<int> order(expected.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int a, int b) { return expected[a] > expected[b]; });
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(result.classes[i].index, order[i]) << "rank " << i;
      EXPECT_NEAR(result.classes[i].probability, expected[result.classes[i].index], kTolerance);
      EXPECT_EQ(result.classes[i].label, "class_" + std::to_string(result.classes[i].index));
    }
  }

  static Explainer* explainer_;
};

Explainer* ClassifyReferenceTest::explainer_ = nullptr;

TEST_P(ClassifyReferenceTest, TensorInputMatchesPyTorch) {
  for (int k = 0; k < 2; ++k) {
    const std::string input = xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/input_" +
                                                      std::to_string(k) + ".bin");
    ClassifyRequest request;
    request.model = {GetParam(), 0};
    request.image.kind = ImageRef::Kind::kTensor;
    request.image.tensor_shape = {1, 3, 224, 224};
    request.image.tensor_data = input;
    auto result = Run(request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->model.version, 1);
    ExpectMatches(*result, xai::testing::ReadFloats(xai::testing::ReferenceDir() + "/" +
                                                    GetParam() + "_" + std::to_string(k) + ".bin"));
  }
}

TEST_P(ClassifyReferenceTest, EncodedInputMatchesPyTorch) {
  const std::string png = xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png");
  ClassifyRequest request;
  request.model = {GetParam(), 1};
  request.image.kind = ImageRef::Kind::kEncoded;
  request.image.encoded = png;
  auto result = Run(request);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ExpectMatches(*result, xai::testing::ReadFloats(xai::testing::ReferenceDir() + "/" + GetParam() +
                                                  "_image.bin"));
}

INSTANTIATE_TEST_SUITE_P(TracedAndScripted, ClassifyReferenceTest,
                         ::testing::Values("resnet18", "resnet18_scripted"));

}  // namespace
}  // namespace xai::core
