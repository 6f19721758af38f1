// Attribute against an independent eager-PyTorch implementation of Captum's procedures
// (tools/attribution_reference.py) on a traced resnet18 and a scripted efficientnet_b0; Integrated
// Gradients' completeness on the demo model; bad fields; a deadline between batches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

std::string ReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/attribution_reference"; }

AttributionMethod MethodNamed(const std::string& name) {
  if (name == "SALIENCY") return AttributionMethod::kSaliency;
  if (name == "INPUT_X_GRADIENT") return AttributionMethod::kInputXGradient;
  return AttributionMethod::kIntegratedGradients;
}

IntegrationRule RuleNamed(const std::string& name) {
  for (int n = 0; n <= 4; ++n) {
    if (IntegrationRuleName(static_cast<IntegrationRule>(n)) == name) {
      return static_cast<IntegrationRule>(n);
    }
  }
  return IntegrationRule::kGaussLegendre;
}

int BaselineNamed(const std::string& name) {
  for (int n = 1; n <= 5; ++n) {
    if (BaselineKindName(static_cast<BaselineKind>(n)) == name) return n;
  }
  return -1;
}

TEST(AttributeReferenceTest, EveryMethodAndRuleMatchesCaptumsProcedure) {
  std::ifstream manifest_file(ReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_attribution_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  auto explainer = xai::testing::StartExplainer(ReferenceDir());
  int compared = 0;
  for (const nlohmann::json& c : manifest) {
    SCOPED_TRACE(c["name"].get<std::string>() + " " + c["method"].get<std::string>() + " " +
                 c["rule"].get<std::string>());
    AttributeRequest request;
    request.model = {c["model"].get<std::string>(), 0};
    request.image.kind = ImageRef::Kind::kTensor;
    request.image.tensor_shape = {1, 3, 224, 224};
    // The request borrows the bytes (ImageRef): they outlive the call.
    const std::string input =
        xai::testing::ReadBytes(ReferenceDir() + "/" + c["input"].get<std::string>());
    request.image.tensor_data = input;
    request.target_classes = c["targets"].get<std::vector<int>>();
    request.method = MethodNamed(c["method"].get<std::string>());
    request.rule = RuleNamed(c["rule"].get<std::string>());
    request.steps = c["steps"].get<int>();
    for (const auto& b : c["baselines"]) request.baselines.push_back(BaselineNamed(b));
    request.batch_size = 5;  // batches that do not divide the steps
    auto result = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const std::vector<float> expected =
        xai::testing::ReadFloats(ReferenceDir() + "/" + c["attribution"].get<std::string>());
    const size_t per_target = 3 * 224 * 224;
    ASSERT_EQ(result->attributions.size(), request.target_classes.size());
    ASSERT_EQ(expected.size(), per_target * request.target_classes.size());
    for (size_t t = 0; t < request.target_classes.size(); ++t) {
      const PixelAttribution& a = result->attributions[t];
      EXPECT_EQ(a.target_class, request.target_classes[t]);
      ASSERT_EQ(a.attribution.shape, (std::vector<int64_t>{3, 224, 224}));
      ASSERT_EQ(a.map.shape, (std::vector<int64_t>{224, 224}));
      const float* e = expected.data() + t * per_target;
      float largest = 0, worst = 0;
      for (size_t i = 0; i < per_target; ++i) largest = std::max(largest, std::abs(e[i]));
      for (size_t i = 0; i < per_target; ++i) {
        worst = std::max(worst, std::abs(a.attribution.data[i] - e[i]));
      }
      ASSERT_GT(largest, 0.0f);
      EXPECT_LE(worst, 1e-4f * largest) << "target " << a.target_class;
      // The map is the channel sum.
      EXPECT_NEAR(a.map.data[1000],
                  a.attribution.data[1000] + a.attribution.data[1000 + 224 * 224] +
                      a.attribution.data[1000 + 2 * 224 * 224],
                  1e-5f * largest + 1e-7f);
      if (request.method == AttributionMethod::kIntegratedGradients) {
        const double logit = c["logits"][t].get<double>();
        const double base = c["baseline_logits"][t].get<double>();
        EXPECT_NEAR(a.logit, logit, 1e-4 * std::max(1.0, std::abs(logit)));
        EXPECT_NEAR(a.baseline_logit, base, 1e-4 * std::max(1.0, std::abs(base)));
        EXPECT_NEAR(a.convergence_delta, c["deltas"][t].get<double>(),
                    2e-3 * std::max(1.0, std::abs(logit - base)));
        EXPECT_EQ(a.steps, request.steps);
        EXPECT_NEAR(a.approximation_error,
                    std::abs(a.convergence_delta) / std::abs(a.logit - a.baseline_logit), 1e-5);
      }
      ++compared;
    }
  }
  // Two targets of eight variants on resnet18 and four on efficientnet_b0.
  EXPECT_GE(compared, (8 + 4) * 2);
}

class AttributeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    explainer_ = xai::testing::StartExplainer(std::string(XAI_SOURCE_DIR) + "/models").release();
  }
  static void TearDownTestSuite() { delete explainer_; }

  // The image's bytes live as long as the suite: requests borrow them (ImageRef).
  static AttributeRequest Request() {
    static const std::string* const image = new std::string(
        xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png"));
    AttributeRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = *image;
    return request;
  }

  void ExpectError(const AttributeRequest& request, StatusCode code, const std::string& message) {
    const auto result = xai::testing::AttributeAndWait(*explainer_, request);
    EXPECT_EQ(result.status().code(), code) << result.status().ToString();
    EXPECT_THAT(result.status().message(), HasSubstr(message));
  }

  static Explainer* explainer_;
};

Explainer* AttributeTest::explainer_ = nullptr;

// Completeness: with enough steps the attributions sum to f(x) - f(baseline).
TEST_F(AttributeTest, IntegratedGradientsIsCompleteWithinOnePercentAt200Steps) {
  AttributeRequest request = Request();
  request.steps = 200;
  auto result = xai::testing::AttributeAndWait(*explainer_, request);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->attributions.size(), 1u);
  const PixelAttribution& a = result->attributions[0];
  EXPECT_EQ(a.target_class, result->classes[0].index);  // the top-1 class, star
  EXPECT_EQ(a.steps, 200);
  EXPECT_GT(std::abs(a.logit - a.baseline_logit), kMeaningfulLogitGap);
  EXPECT_TRUE(a.warning.empty()) << a.warning;
  EXPECT_LT(a.approximation_error, 0.01f);
  std::printf("IG on the demo model, 200 Gauss-Legendre steps: f(x) %.4f, f(0) %.4f, error %.2e\n",
              a.logit, a.baseline_logit, a.approximation_error);
}

TEST_F(AttributeTest, BadFieldsAreInvalidArgumentsAndUnservedMethodsUnimplemented) {
  auto r = Request();
  r.method = static_cast<AttributionMethod>(42);
  ExpectError(r, StatusCode::kInvalidArgument, "method 42 is not an AttributionMethod");
  r.method = AttributionMethod::kSmoothGrad;
  ExpectError(r, StatusCode::kUnimplemented,
              "method SMOOTH_GRAD is not served yet; served: SALIENCY, INPUT_X_GRADIENT, "
              "INTEGRATED_GRADIENTS");
  r = Request();
  r.steps = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "steps must be in [1, 1024] (0: 50), got -1");
  r.steps = 1025;
  ExpectError(r, StatusCode::kInvalidArgument, "steps must be in [1, 1024]");
  r.steps = 1;
  r.rule = IntegrationRule::kRiemannTrapezoid;
  ExpectError(r, StatusCode::kInvalidArgument, "steps must be in [2, 1024]");
  r = Request();
  r.rule = static_cast<IntegrationRule>(9);
  ExpectError(r, StatusCode::kInvalidArgument, "rule 9 is not an IntegrationRule");
  r = Request();
  r.batch_size = 129;
  ExpectError(r, StatusCode::kInvalidArgument, "batch_size must be in [1, 128] (0: 32), got 129");
  r = Request();
  r.baselines = {1, 9};
  ExpectError(r, StatusCode::kInvalidArgument, "baselines[1] = 9 is not a Baseline");
  r.baselines = std::vector<int>(9, 1);
  ExpectError(r, StatusCode::kInvalidArgument, "baselines has 9 entries; at most 8");
  r = Request();
  r.samples = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "samples must be >= 0");
  r = Request();
  r.noise_stdev = std::nanf("");
  ExpectError(r, StatusCode::kInvalidArgument, "noise_stdev must be finite");
  r = Request();
  r.target_classes = {5};
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes[0] = 5 is out of range [0, 5)");
  r = Request();
  r.overlay = true;
  ExpectError(r, StatusCode::kUnimplemented, "overlay is not served yet for attributions");
}

// Every baseline kind at once, averaged; the seeded noise baseline repeats with its seed and
// changes with another; the warning follows the logit gap.
TEST_F(AttributeTest, EveryBaselineKindAveragesAndTheSeedRepeatsTheNoise) {
  auto r = Request();
  r.steps = 16;
  r.baselines = {static_cast<int>(BaselineKind::kBlack), static_cast<int>(BaselineKind::kWhite),
                 static_cast<int>(BaselineKind::kBlur),
                 static_cast<int>(BaselineKind::kUniformNoise)};
  r.seed = 7;
  auto a = xai::testing::AttributeAndWait(*explainer_, r);
  auto b = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->attributions[0].attribution.data, b->attributions[0].attribution.data);  // seeded
  r.seed = 8;
  auto c = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(a->attributions[0].attribution.data, c->attributions[0].attribution.data);
  const PixelAttribution& x = a->attributions[0];
  EXPECT_EQ(x.warning.empty(), std::abs(x.logit - x.baseline_logit) >= kMeaningfulLogitGap);
}

TEST_F(AttributeTest, ADeadlineBetweenBatchesStopsTheWork) {
  auto r = Request();
  r.steps = 1024;
  r.batch_size = 1;
  const auto start = Clock::now();
  r.context.deadline = start + std::chrono::milliseconds(300);
  ExpectError(r, StatusCode::kDeadlineExceeded,
              "INTEGRATED_GRADIENTS: the deadline passed between batches of gradients");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace xai::core
