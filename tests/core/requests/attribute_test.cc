// Attribute against an independent eager-PyTorch implementation of Captum's procedures
// (tools/attribution_reference.py) on a traced resnet18 and a scripted efficientnet_b0 (every
// method and rule on both); Integrated Gradients' completeness on the demo model; the sampled
// methods, adaptive IG, XRAI, overlays and metrics; bad fields; a deadline between batches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/explainer.h"
#include "core/image/overlay.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

std::string ReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/attribution_reference"; }

AttributionMethod MethodNamed(const std::string& name) {
  if (name == "SALIENCY") return AttributionMethod::kSaliency;
  if (name == "INPUT_X_GRADIENT") return AttributionMethod::kInputXGradient;
  if (name == "SMOOTH_GRAD") return AttributionMethod::kSmoothGrad;
  if (name == "GRADIENT_SHAP") return AttributionMethod::kGradientShap;
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

// A reference case's model, input, targets and method. The request borrows the bytes
// (ImageRef): `input` holds them and must outlive the call.
AttributeRequest ReferenceRequest(const nlohmann::json& c, std::string* input) {
  AttributeRequest request;
  request.model = {c["model"].get<std::string>(), 0};
  request.image.kind = ImageRef::Kind::kTensor;
  const int64_t side = c["size"].get<int64_t>();
  request.image.tensor_shape = {1, 3, side, side};
  *input = xai::testing::ReadBytes(ReferenceDir() + "/" + c["input"].get<std::string>());
  request.image.tensor_data = *input;
  request.target_classes = c["targets"].get<std::vector<int>>();
  request.method = MethodNamed(c["method"].get<std::string>());
  return request;
}

TEST(AttributeReferenceTest, EveryMethodAndRuleMatchesCaptumsProcedure) {
  std::ifstream manifest_file(ReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_attribution_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  auto explainer = xai::testing::StartExplainer(ReferenceDir());
  int compared = 0;
  for (const nlohmann::json& c : manifest) {
    if (c.value("sampled", false)) continue;  // SampledMethodsEstimateWhatTheReferenceDoes
    SCOPED_TRACE(c["name"].get<std::string>() + " " + c["method"].get<std::string>() + " " +
                 c["rule"].get<std::string>());
    std::string input;
    AttributeRequest request = ReferenceRequest(c, &input);
    request.rule = RuleNamed(c["rule"].get<std::string>());
    request.steps = c["steps"].get<int>();
    for (const auto& b : c["baselines"]) request.baselines.push_back(BaselineNamed(b));
    request.batch_size = 5;  // batches that do not divide the steps
    auto result = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const std::vector<float> expected =
        xai::testing::ReadFloats(ReferenceDir() + "/" + c["attribution"].get<std::string>());
    const int64_t side = c["size"].get<int64_t>();
    const size_t plane = side * side, per_target = 3 * plane;
    ASSERT_EQ(result->attributions.size(), request.target_classes.size());
    ASSERT_EQ(expected.size(), per_target * request.target_classes.size());
    for (size_t t = 0; t < request.target_classes.size(); ++t) {
      const PixelAttribution& a = result->attributions[t];
      EXPECT_EQ(a.target_class, request.target_classes[t]);
      ASSERT_EQ(a.attribution.shape, (std::vector<int64_t>{3, side, side}));
      ASSERT_EQ(a.map.shape, (std::vector<int64_t>{side, side}));
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
                  a.attribution.data[1000] + a.attribution.data[1000 + plane] +
                      a.attribution.data[1000 + 2 * plane],
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
  // Two targets of eight variants (every method and rule) on each architecture.
  EXPECT_GE(compared, (8 + 8) * 2);
}

// SMOOTH_GRAD and GRADIENT_SHAP draw from their own random streams, so they are estimates
// of what the reference estimates: the engine's estimate is as far from the reference's as
// two reference estimates of different seeds are from each other (||A - B|| / ||A||), within
// 30% (a bias, such as a wrong noise scale, adds to that distance). The same seed repeats
// the answer.
TEST(AttributeReferenceTest, SampledMethodsEstimateWhatTheReferenceDoes) {
  std::ifstream manifest_file(ReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_attribution_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  auto explainer = xai::testing::StartExplainer(ReferenceDir());
  int compared = 0;
  for (const nlohmann::json& c : manifest) {
    if (!c.value("sampled", false)) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    std::string input;
    AttributeRequest request = ReferenceRequest(c, &input);
    request.samples = c["samples"].get<int>();
    request.noise_stdev = c["noise_fraction"].get<float>();
    for (const auto& b : c["baselines"]) request.baselines.push_back(BaselineNamed(b));
    request.seed = 3;
    request.batch_size = 24;
    auto result = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->attributions.size(), 1u);
    const std::vector<float> expected =
        xai::testing::ReadFloats(ReferenceDir() + "/" + c["attribution"].get<std::string>());
    const std::vector<float>& got = result->attributions[0].attribution.data;
    ASSERT_EQ(got.size(), expected.size());
    double distance = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      distance += (got[i] - expected[i]) * static_cast<double>(got[i] - expected[i]);
      norm += expected[i] * static_cast<double>(expected[i]);
    }
    const double relative = std::sqrt(distance / norm);
    const double between_references = c["reference_distance"].get<double>();
    std::cout << c["name"].get<std::string>()
              << ": ||engine - reference|| / ||reference|| = " << relative
              << ", between two reference seeds " << between_references << "\n";
    EXPECT_LT(between_references, 1.0);
    EXPECT_LT(relative, 1.3 * between_references);
    auto again = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->attributions[0].attribution.data, got);
    ++compared;
  }
  EXPECT_EQ(compared, 2);
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

TEST_F(AttributeTest, BadFieldsAreInvalidArgumentsNamingTheField) {
  auto r = Request();
  r.method = static_cast<AttributionMethod>(42);
  ExpectError(r, StatusCode::kInvalidArgument, "method 42 is not an AttributionMethod");
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
  r.samples = 5;
  ExpectError(r, StatusCode::kInvalidArgument,
              "samples applies to SMOOTH_GRAD and GRADIENT_SHAP only, not INTEGRATED_GRADIENTS");
  r.method = AttributionMethod::kGradientShap;
  r.samples = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "samples must be in [1, 1024] (0: 5), got -1");
  r.samples = 1025;
  ExpectError(r, StatusCode::kInvalidArgument, "samples must be in [1, 1024]");
  r = Request();
  r.method = AttributionMethod::kSmoothGrad;
  r.noise_stdev = std::nanf("");
  ExpectError(r, StatusCode::kInvalidArgument,
              "noise_stdev (a fraction of the input's max - min) must be in [0, 2]");
  r.noise_stdev = 2.5f;
  ExpectError(r, StatusCode::kInvalidArgument, "must be in [0, 2], got 2.5");
  r.noise_stdev = 0.1f;
  r.noise_stdev_absolute = 0.3f;
  ExpectError(r, StatusCode::kInvalidArgument, "set noise_stdev (a fraction) or");
  r.noise_stdev = 0;
  r.noise_stdev_absolute = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "noise_stdev_absolute must be in [0, 10000]");
  r = Request();
  r.method = AttributionMethod::kSmoothGrad;
  r.smooth_grad_of = AttributionMethod::kXrai;
  ExpectError(r, StatusCode::kInvalidArgument,
              "smooth_grad_of must be SALIENCY (0, the default), INPUT_X_GRADIENT or "
              "INTEGRATED_GRADIENTS, got 6");
  r.smooth_grad_of = AttributionMethod::kIntegratedGradients;
  r.samples = 1024;
  r.steps = 128;
  ExpectError(r, StatusCode::kInvalidArgument,
              "samples x steps x baselines = 131072 gradients per target for SMOOTH_GRAD of "
              "INTEGRATED_GRADIENTS; at most 65536");
  r = Request();
  r.smooth_grad_of = AttributionMethod::kSaliency;
  ExpectError(r, StatusCode::kInvalidArgument,
              "smooth_grad_of applies to SMOOTH_GRAD only, not INTEGRATED_GRADIENTS");
  r = Request();
  r.max_approximation_error = 1.5f;
  ExpectError(r, StatusCode::kInvalidArgument,
              "max_approximation_error must be in [0, 1] (0: fixed steps)");
  r.max_approximation_error = 0.05f;
  r.method = AttributionMethod::kSaliency;
  ExpectError(r, StatusCode::kInvalidArgument,
              "max_approximation_error applies to INTEGRATED_GRADIENTS and XRAI only, not "
              "SALIENCY");
  r = Request();
  r.target_classes = {5};
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes[0] = 5 is out of range [0, 5)");
  r = Request();
  r.overlay.enabled = true;
  r.overlay.attribution.polarity = 3;
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.polarity 3 is not an AttributionPolarity");
  r.overlay.attribution.polarity = 2;
  r.overlay.attribution.kind = 7;
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.kind 7 is not an AttributionOverlayKind");
  r.overlay.attribution.kind = 2;
  r.overlay.attribution.clip_upper_percentile = 0;
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.clip_upper_percentile must be in (0, 100] (unset: 99.9)");
  r.overlay.attribution.clip_upper_percentile = 50;
  r.overlay.attribution.clip_lower_percentile = 50;
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.clip_lower_percentile must be in [0, clip_upper_percentile");
  r.overlay.attribution.clip_lower_percentile = 0;
  r.overlay.attribution.xrai_outlines = {10};
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.xrai_outlines applies to XRAI only, not INTEGRATED_GRADIENTS");
  r.method = AttributionMethod::kXrai;
  r.overlay.attribution.xrai_outlines = {10, 200};
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.attribution.xrai_outlines[1] must be in (0, 100], got 200");
  r.overlay.attribution.xrai_outlines = {};
  r.overlay.colormap = "sepia";
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.colormap \"sepia\" is not an OpenCV");
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

// Adaptive Integrated Gradients on the demo model: the error met with the steps it reports,
// or, with an error the cap cannot reach, the reason in the warning.
TEST_F(AttributeTest, AdaptiveIntegratedGradientsMeetsItsErrorOrSaysWhyNot) {
  auto r = Request();
  r.max_approximation_error = 0.05f;
  auto met = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(met.ok()) << met.status().ToString();
  const PixelAttribution& a = met->attributions[0];
  EXPECT_TRUE(a.approximation_error_met);
  EXPECT_LE(a.approximation_error, 0.05f);
  EXPECT_GE(a.steps, kAdaptiveFirstSteps);
  EXPECT_LE(a.steps, kDefaultAdaptiveStepCap);
  EXPECT_TRUE(a.warning.empty()) << a.warning;
  std::printf("adaptive IG on the demo model: error %.4f with %d steps\n", a.approximation_error,
              a.steps);
  r.max_approximation_error = 1e-7f;
  r.steps = 20;
  auto capped = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  const PixelAttribution& b = capped->attributions[0];
  EXPECT_FALSE(b.approximation_error_met);
  EXPECT_EQ(b.steps, 20);  // Gauss-Legendre: 8, 16, then the cap
  EXPECT_THAT(b.warning, HasSubstr("is above max_approximation_error"));
  EXPECT_THAT(b.warning, HasSubstr("the step cap was reached"));
}

// SMOOTH_GRAD (of each method it smooths) and GRADIENT_SHAP through the request: the seed
// repeats the answer, and the draws do not depend on the batch size (other batches sum in
// another order: equal to float rounding); another seed changes it.
TEST_F(AttributeTest, SampledMethodsRepeatWithTheirSeed) {
  for (const auto& [method, of] : std::vector<std::pair<AttributionMethod, AttributionMethod>>{
           {AttributionMethod::kSmoothGrad, AttributionMethod::kUnspecified},
           {AttributionMethod::kSmoothGrad, AttributionMethod::kInputXGradient},
           {AttributionMethod::kSmoothGrad, AttributionMethod::kIntegratedGradients},
           {AttributionMethod::kGradientShap, AttributionMethod::kUnspecified}}) {
    SCOPED_TRACE(std::string(AttributionMethodName(method)) + " of " +
                 std::string(AttributionMethodName(of)));
    auto r = Request();
    r.method = method;
    r.smooth_grad_of = of;
    r.samples = 6;
    r.steps = of == AttributionMethod::kIntegratedGradients ? 4 : 0;
    r.baselines = {static_cast<int>(BaselineKind::kBlack), static_cast<int>(BaselineKind::kWhite)};
    r.seed = 11;
    r.batch_size = 4;
    auto a = xai::testing::AttributeAndWait(*explainer_, r);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    auto same = xai::testing::AttributeAndWait(*explainer_, r);
    ASSERT_TRUE(same.ok()) << same.status().ToString();
    EXPECT_EQ(a->attributions[0].attribution.data, same->attributions[0].attribution.data);
    r.batch_size = 5;
    auto b = xai::testing::AttributeAndWait(*explainer_, r);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const std::vector<float>& x = a->attributions[0].attribution.data;
    const std::vector<float>& y = b->attributions[0].attribution.data;
    ASSERT_EQ(x.size(), y.size());
    float largest = 0, worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      largest = std::max(largest, std::abs(x[i]));
      worst = std::max(worst, std::abs(x[i] - y[i]));
    }
    EXPECT_LE(worst, 1e-5f * largest);
    r.seed = 12;
    auto c = xai::testing::AttributeAndWait(*explainer_, r);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_NE(a->attributions[0].attribution.data, c->attributions[0].attribution.data);
    EXPECT_EQ(a->attributions[0].approximation_error, 0.0f);  // not an integrating method
  }
}

// XRAI on the demo model: the attribution is Integrated Gradients' from BLACK and WHITE (the
// default baselines), with its error; the map covers the image, and each value is the mean
// of the channel-maximum attribution over the pixels that hold it (a region's gain).
TEST_F(AttributeTest, XraiRanksRegionsOfItsIntegratedGradients) {
  auto r = Request();
  r.method = AttributionMethod::kXrai;
  r.steps = 32;
  auto xrai = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(xrai.ok()) << xrai.status().ToString();
  r.method = AttributionMethod::kIntegratedGradients;
  r.baselines = {static_cast<int>(BaselineKind::kBlack), static_cast<int>(BaselineKind::kWhite)};
  auto ig = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(ig.ok()) << ig.status().ToString();
  const PixelAttribution& x = xrai->attributions[0];
  EXPECT_EQ(x.attribution.data, ig->attributions[0].attribution.data);
  EXPECT_EQ(x.approximation_error, ig->attributions[0].approximation_error);
  EXPECT_EQ(x.steps, 32);
  ASSERT_EQ(x.map.shape, (std::vector<int64_t>{64, 64}));
  const int64_t pixels = 64 * 64;
  std::map<float, std::pair<double, int>> groups;  // value: (sum of channel maxima, pixels)
  for (int64_t p = 0; p < pixels; ++p) {
    ASSERT_TRUE(std::isfinite(x.map.data[p]));
    float most = x.attribution.data[p];
    for (int c = 1; c < 3; ++c) most = std::max(most, x.attribution.data[c * pixels + p]);
    auto& g = groups[x.map.data[p]];
    g.first += most;
    ++g.second;
  }
  EXPECT_GE(groups.size(), 4u);  // several regions
  for (const auto& [value, g] : groups) {
    EXPECT_NEAR(g.first / g.second, value, 1e-5 * (1 + std::abs(value))) << g.second << " pixels";
  }
}

// Overlays: the original image's size by default; at the model input, MASKED_IMAGE is black
// where the scaled map is 0, and XRAI's outline of its top 20% runs along that region's edge.
TEST_F(AttributeTest, OverlaysDrawTheMapAndXraiOutlinesItsTopRegions) {
  auto r = Request();
  r.steps = 16;
  r.overlay.enabled = true;
  auto full = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  const std::string& png = full->attributions[0].overlay_png;
  const cv::Mat original =
      cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
                   cv::IMREAD_COLOR);
  EXPECT_EQ(original.cols, 128);  // samples/star_3.png
  EXPECT_EQ(original.rows, 128);
  // The PNG says what it is and how it is scaled (its tEXt Description).
  EXPECT_THAT(png, HasSubstr(std::string("tEXtDescription") + '\0' +
                             "INTEGRATED_GRADIENTS of class 3 (star). Drawn: the positive part "
                             "(what raised the target's logit), from nothing at its 0th "
                             "percentile of magnitude to full strength at its 99.9th."));

  r.method = AttributionMethod::kXrai;
  r.overlay.model_input_size = true;
  r.overlay.attribution.set = true;
  r.overlay.attribution.kind = static_cast<int>(AttributionOverlayKind::kMaskedImage);
  r.overlay.attribution.xrai_outlines = {20};
  auto xrai = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(xrai.ok()) << xrai.status().ToString();
  const PixelAttribution& a = xrai->attributions[0];
  const cv::Mat drawn = cv::imdecode(cv::Mat(1, static_cast<int>(a.overlay_png.size()), CV_8U,
                                             const_cast<char*>(a.overlay_png.data())),
                                     cv::IMREAD_COLOR);
  ASSERT_EQ(drawn.cols, 64);
  const cv::Mat map(64, 64, CV_32F, const_cast<float*>(a.map.data.data()));
  const cv::Mat scaled = ScaleAttribution(map, AttributionPolarity::kPositive, 0, 99.9f);
  std::vector<int> order(64 * 64);
  for (int p = 0; p < 64 * 64; ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(),
                   [&a](int x, int y) { return a.map.data[x] > a.map.data[y]; });
  std::vector<char> top(64 * 64, 0);
  for (int k = 0; k < 64 * 64 / 5; ++k) top[order[k]] = 1;
  int white = 0, black_where_zero = 0, zero = 0;
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const cv::Vec3b px = drawn.at<cv::Vec3b>(y, x);
      if (px == cv::Vec3b(255, 255, 255)) {
        ++white;
        bool in = false, out = false;  // the outline lies within 2 pixels of the edge
        for (int dy = -2; dy <= 2; ++dy) {
          for (int dx = -2; dx <= 2; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= 64 || xx < 0 || xx >= 64) continue;
            (top[yy * 64 + xx] ? in : out) = true;
          }
        }
        EXPECT_TRUE(in && out) << x << "," << y;
      } else if (scaled.at<float>(y, x) == 0.0f) {
        ++zero;
        black_where_zero += px == cv::Vec3b(0, 0, 0);
      }
    }
  }
  EXPECT_GE(white, 20);
  EXPECT_GT(zero, 0);
  EXPECT_EQ(black_where_zero, zero);
}

// The faithfulness metrics on an attribution's map: both curves of steps + 1 points, the
// random map's beside; bad steps refused; a deadline among the metrics' forwards stops them.
TEST_F(AttributeTest, MetricsScoreTheAttributionMap) {
  auto r = Request();
  r.steps = 16;
  r.metrics = {true, 8, true};
  auto scored = xai::testing::AttributeAndWait(*explainer_, r);
  ASSERT_TRUE(scored.ok()) << scored.status().ToString();
  const PixelAttribution& a = scored->attributions[0];
  ASSERT_TRUE(a.metrics.has_value());
  EXPECT_EQ(a.metrics->map.deletion_curve.size(), 9u);
  EXPECT_EQ(a.metrics->map.insertion_curve.size(), 9u);
  EXPECT_FLOAT_EQ(a.metrics->map.deletion_curve.front(), a.metrics->probability);
  EXPECT_FLOAT_EQ(a.metrics->map.insertion_curve.front(), a.metrics->blurred_probability);
  ASSERT_TRUE(a.metrics->random.has_value());
  std::printf("IG on star_3, 8 steps: deletion AUC %.4f (random %.4f), insertion %.4f (%.4f)\n",
              a.metrics->map.deletion_auc, a.metrics->random->deletion_auc,
              a.metrics->map.insertion_auc, a.metrics->random->insertion_auc);
  r.metrics.steps = 257;
  ExpectError(r, StatusCode::kInvalidArgument, "metrics.steps must be in [1, 256]");
  r.metrics.steps = 256;
  r.batch_size = 1;
  r.steps = 1;
  r.context.deadline = Clock::now() + std::chrono::milliseconds(150);
  ExpectError(r, StatusCode::kDeadlineExceeded, "the deadline passed");
}

// GradCAM draws CAMs: an attribution style is refused there.
TEST_F(AttributeTest, GradCamRefusesAnAttributionStyle) {
  static const std::string image =
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
  GradCamRequest request;
  request.model = {"shapes", 0};
  request.image.kind = ImageRef::Kind::kEncoded;
  request.image.encoded = image;
  request.overlay.attribution.set = true;
  const auto result = xai::testing::GradCamAndWait(*explainer_, request);
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr("overlay.attribution applies to Attribute only"));
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
