// Grad-CAM against an independent eager-PyTorch reference (tools/cam_reference.py), for
// every gradient method, on traced and scripted models, one and several layers and
// targets; and every bad GradCAM field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/reference_methods.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

constexpr float kCamTolerance = 1e-4f;  // on maps normalised to [0,1]
// The perturbation methods' weights come from forwards of other batch sizes than the
// reference's, whose convolutions round differently.
constexpr float kPerturbationTolerance = 1e-3f;

// XAI_CAM_REFERENCE_DIR points the reference test at another set, e.g. one made with
// tools/cam_reference.py --extra.
using xai::testing::CamReferenceDir;

std::unique_ptr<Explainer> StartOn(const std::string& repository) {
  return xai::testing::StartExplainer(repository);
}

using xai::testing::kReferenceMethodCount;
using xai::testing::kReferenceMethods;

TEST(GradCamReferenceTest, EveryMethodMatchesPyTorch) {
  std::ifstream manifest_file(CamReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_cam_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  auto explainer = StartOn(CamReferenceDir());
  int compared = 0;
  int expected = 0;
  int aug_smoothed = 0;
  int perturbed = 0;
  for (const auto& c : manifest) {
    const std::string input =
        xai::testing::ReadBytes(CamReferenceDir() + "/" + c["input"].get<std::string>());
    const auto targets = c["targets"].get<std::vector<int>>();
    const int64_t size = c["size"].get<int64_t>();  // the input's height and width
    // Every method; aug_smooth too where the reference computed it (one case per
    // architecture, for the plain methods).
    for (int v = 0; v < 2 * kReferenceMethodCount; ++v) {
      const int m = v % kReferenceMethodCount;
      const bool aug = v >= kReferenceMethodCount;
      const std::string name = std::string(kReferenceMethods[m].name) + (aug ? "+aug_smooth" : "");
      const bool perturbation = kReferenceMethods[m].perturbation;
      // aug_smooth and the perturbation methods on some cases only; an ill-conditioned
      // method where the reference says so (tools/cam_reference.py's ILL_CONDITIONED).
      if (!c["maps"].contains(name)) continue;
      expected += static_cast<int>(targets.size());
      aug_smoothed += aug;
      perturbed += perturbation;
      SCOPED_TRACE(c["name"].get<std::string>() + " " + name);
      GradCamRequest request;
      request.model = {c["model"].get<std::string>(), 0};
      request.image.kind = ImageRef::Kind::kTensor;
      request.image.tensor_shape = {1, 3, size, size};
      request.image.tensor_data = input;
      request.layers = c["layers"].get<std::vector<std::string>>();
      request.target_classes = targets;
      request.method = kReferenceMethods[m].method;
      request.eigen_smooth = kReferenceMethods[m].eigen_smooth;
      request.aug_smooth = aug;
      auto result = xai::testing::GradCamAndWait(*explainer, request);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      ASSERT_EQ(result->explanations.size(), targets.size());
      const auto& maps = c["maps"][name];
      const std::vector<float> cams =
          xai::testing::ReadFloats(CamReferenceDir() + "/" + maps["cam"].get<std::string>());
      const std::vector<float> raws =
          xai::testing::ReadFloats(CamReferenceDir() + "/" + maps["raw"].get<std::string>());
      const auto raw_shape = maps["raw_shape"].get<std::vector<int64_t>>();
      const size_t cam_size = static_cast<size_t>(size * size);
      const size_t raw_size = raw_shape[0] * raw_shape[1];
      for (size_t t = 0; t < targets.size(); ++t) {
        const CamExplanation& e = result->explanations[t];
        EXPECT_EQ(e.target_class, targets[t]);
        ASSERT_EQ(e.cam.shape, (std::vector<int64_t>{size, size}));
        ASSERT_EQ(e.raw.shape, raw_shape);
        float cam_error = 0;
        for (size_t i = 0; i < cam_size; ++i) {
          cam_error = std::max(cam_error, std::abs(e.cam.data[i] - cams[t * cam_size + i]));
        }
        EXPECT_LE(cam_error, perturbation ? kPerturbationTolerance : kCamTolerance)
            << "target " << targets[t];
        float raw_error = 0;
        float raw_max = 0;
        for (size_t i = 0; i < raw_size; ++i) {
          raw_error = std::max(raw_error, std::abs(e.raw.data[i] - raws[t * raw_size + i]));
          raw_max = std::max(raw_max, std::abs(raws[t * raw_size + i]));
        }
        EXPECT_LE(raw_error,
                  (perturbation ? kPerturbationTolerance : kCamTolerance) * std::max(1.0f, raw_max))
            << "target " << targets[t];
        EXPECT_GT(raw_max, 0) << "a degenerate reference proves nothing";
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, expected);  // every (case, target) pair, every method
  EXPECT_GE(compared, kReferenceMethodCount * 9);
  // The plain methods on three architectures, but XGRAD_CAM on mobilenet (ILL_CONDITIONED).
  EXPECT_GE(aug_smoothed, 7 * 3 - 1);
  // Each perturbation method on three architectures, and ABLATION_CAM's full forwards
  // where the graph does not split (resnet34_relu_twice).
  EXPECT_GE(perturbed, 3 * 3 + 1);
}

// A scripted BasicBlock applies its one ReLU module twice: no single place to cut the
// graph, so ABLATION_CAM runs full forwards with the layer's output replaced at each call
// (its maps against the reference: EveryMethodMatchesPyTorch, case resnet34_relu_twice);
// DescribeModel's layers say which layers split.
TEST(GradCamReferenceTest, AblationCamRunsFullForwardsWhereTheGraphDoesNotSplit) {
  auto explainer = StartOn(CamReferenceDir());
  auto description = explainer->DescribeModel({"resnet34_scripted", 0});
  ASSERT_TRUE(description.ok()) << description.status().ToString();
  int split = 0;
  for (const LayerInfo& layer : description->layers) {
    if (layer.path == "layer1.0.relu" || layer.path == "layer4.1.relu") {
      EXPECT_EQ(layer.split_refusal, "the layer runs 2 times in a forward") << layer.path;
    }
    if (layer.path == "layer4" || layer.path == "layer4.0.conv2") {
      EXPECT_EQ(layer.split_refusal, "") << layer.path;
      ++split;
    }
  }
  EXPECT_EQ(split, 2);
}

class GradCamValidationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { explainer_ = StartOn(xai::testing::FixtureRepo()).release(); }
  static void TearDownTestSuite() { delete explainer_; }

  GradCamRequest Request() const {
    GradCamRequest request;
    request.model = {"resnet18", 0};
    request.image.kind = ImageRef::Kind::kTensor;
    request.image.tensor_shape = {3, 224, 224};
    request.image.tensor_data = input_;
    return request;
  }

  void ExpectError(const GradCamRequest& request, StatusCode code, const std::string& message) {
    const auto result = xai::testing::GradCamAndWait(*explainer_, request);
    EXPECT_EQ(result.status().code(), code) << result.status().ToString();
    EXPECT_THAT(result.status().message(), HasSubstr(message));
  }

  static Explainer* explainer_;
  // The reference's first input: random, so that maps are not all zero.
  std::string input_ = xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/input_0.bin");
};

Explainer* GradCamValidationTest::explainer_ = nullptr;

TEST_F(GradCamValidationTest, DefaultsToTheTopClassAndTheDefaultLayer) {
  auto result = xai::testing::GradCamAndWait(*explainer_, Request());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->explanations.size(), 1u);
  EXPECT_EQ(result->explanations[0].target_class, result->classes[0].index);
  EXPECT_EQ(result->explanations[0].raw.shape, (std::vector<int64_t>{7, 7}));  // layer4
  EXPECT_EQ(result->classes.size(), 5u);
}

// aug_smooth without targets explains the unchanged input's top-1 class in all six
// variants (pytorch-grad-cam would let each variant pick its own), and reports the
// unchanged input's classes.
TEST_F(GradCamValidationTest, AugSmoothWithoutTargetsExplainsTheTopClassOfTheInput) {
  auto plain = xai::testing::GradCamAndWait(*explainer_, Request());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  GradCamRequest request = Request();
  request.aug_smooth = true;
  auto smoothed = xai::testing::GradCamAndWait(*explainer_, request);
  ASSERT_TRUE(smoothed.ok()) << smoothed.status().ToString();
  ASSERT_EQ(smoothed->explanations.size(), 1u);
  EXPECT_EQ(smoothed->explanations[0].target_class, plain->classes[0].index);
  EXPECT_EQ(smoothed->classes[0].index, plain->classes[0].index);
  EXPECT_NEAR(smoothed->classes[0].probability, plain->classes[0].probability, 1e-5);
  EXPECT_NE(smoothed->explanations[0].cam.data, plain->explanations[0].cam.data);
}

cv::Mat DecodePng(const std::string& png) {
  const cv::Mat bgr =
      cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
                   cv::IMREAD_COLOR);
  EXPECT_FALSE(bgr.empty());
  return bgr;
}

// Whether two overlay PNGs draw the same pixels (their descriptions may differ).
bool SamePixels(const std::string& a, const std::string& b) {
  return cv::norm(DecodePng(a), DecodePng(b), cv::NORM_INF) == 0;
}

// The overlay's heat: the mean of red minus blue over a heatmap-only overlay (jet runs from
// blue, at 0, to red, at 1).
double Heat(const std::string& png) {
  const cv::Scalar mean = cv::mean(DecodePng(png));
  return mean[2] - mean[0];
}

// The PNG's tEXt Description.
std::string Description(const std::string& png) {
  const std::string key = std::string("tEXtDescription") + '\0';
  const size_t at = png.find(key);
  if (at == std::string::npos || at < 4) return "";
  const auto* b = reinterpret_cast<const unsigned char*>(png.data()) + at - 4;
  const size_t length = static_cast<size_t>(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3];
  return png.substr(at + key.size(), length - (key.size() - 4));
}

// SCALE_SHARED draws the strongest target's map as SCALE_PER_MAP does and the others in
// proportion to their raw peaks; SCALE_FIXED at the largest raw peak draws the same; the
// maps themselves never change.
TEST_F(GradCamValidationTest, OverlayScalesShareTheStrongestMapsPeak) {
  GradCamRequest r = Request();
  r.target_classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  r.overlay.enabled = true;
  r.overlay.image_weight = 0;  // the heatmap alone
  auto per_map = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(per_map.ok()) << per_map.status().ToString();
  std::vector<float> peaks;
  for (const CamExplanation& e : per_map->explanations) {
    peaks.push_back(*std::max_element(e.raw.data.begin(), e.raw.data.end()));
  }
  const size_t strongest = std::max_element(peaks.begin(), peaks.end()) - peaks.begin();
  const float largest = peaks[strongest];
  ASSERT_GT(largest, 0);

  r.overlay.scale = 1;  // SCALE_SHARED
  auto shared = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  int weaker = 0;
  for (size_t t = 0; t < peaks.size(); ++t) {
    SCOPED_TRACE("target " + std::to_string(t) + ", raw peak " + std::to_string(peaks[t]) + " of " +
                 std::to_string(largest));
    const CamExplanation& a = per_map->explanations[t];
    const CamExplanation& b = shared->explanations[t];
    EXPECT_EQ(a.cam.data, b.cam.data);  // the map keeps the reference's numerics
    EXPECT_THAT(Description(a.overlay_png),
                HasSubstr("GRAD_CAM of class " + std::to_string(a.target_class) + " (class_" +
                          std::to_string(a.target_class) +
                          ") at layer4. Colours: jet, from its lowest (raw minimum) to red (raw "));
    EXPECT_THAT(Description(a.overlay_png), HasSubstr(", this map's maximum)."));
    EXPECT_THAT(Description(b.overlay_png),
                HasSubstr("the largest raw peak of the request's targets; this map's raw peak"));
    if (t == strongest) {
      EXPECT_TRUE(SamePixels(a.overlay_png, b.overlay_png));
    } else if (peaks[t] > 0 && peaks[t] < 0.8f * largest) {  // a map of zeros is blue anyway
      EXPECT_LT(Heat(b.overlay_png), Heat(a.overlay_png) - 5);
      ++weaker;
    }
  }
  EXPECT_GE(weaker, 2) << "the fixture's targets should differ in strength";

  r.overlay.scale = 2;  // SCALE_FIXED
  r.overlay.scale_max = largest;
  auto fixed = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  for (size_t t = 0; t < peaks.size(); ++t) {
    EXPECT_TRUE(SamePixels(fixed->explanations[t].overlay_png, shared->explanations[t].overlay_png))
        << t;
    EXPECT_THAT(Description(fixed->explanations[t].overlay_png),
                HasSubstr("the request's scale_max"));
  }
  // Half the peak: the strongest map saturates (clipped to 1), hotter than its own scale.
  r.overlay.scale_max = largest / 2;
  auto hotter = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(hotter.ok()) << hotter.status().ToString();
  EXPECT_GT(Heat(hotter->explanations[strongest].overlay_png),
            Heat(per_map->explanations[strongest].overlay_png) + 5);
}

TEST_F(GradCamValidationTest, BadFieldsAreInvalidArguments) {
  auto r = Request();
  r.layers = {"layer5"};
  ExpectError(r, StatusCode::kInvalidArgument,
              "layers[0] \"layer5\" is not a module of model 'resnet18' v1; closest CAM layers: "
              "layer1, layer2, layer3, layer4, layer1.0");
  r.layers = {"fc"};
  ExpectError(r, StatusCode::kInvalidArgument,
              "layer \"fc\" (Linear, output [1, 1000]) is not a CAM layer: not a feature map: a "
              "2-D output [1, 1000]");
  r.layers = {"layer4..1"};
  ExpectError(r, StatusCode::kInvalidArgument, "is not a module path");
  r.layers = {""};
  ExpectError(r, StatusCode::kInvalidArgument, "layers[0] \"\" is not a module path");
  r.layers = {"layer4", "layer4"};
  ExpectError(r, StatusCode::kInvalidArgument, "layers[1] \"layer4\" is repeated");
  r = Request();
  r.target_classes = {3, 1000};
  ExpectError(r, StatusCode::kInvalidArgument,
              "target_classes[1] = 1000 is out of range [0, 1000)");
  r.target_classes = {-1};
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes[0] = -1 is out of range");
  r.target_classes = std::vector<int>(65, 1);
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes has 65 entries; at most 64");
  r = Request();
  r.method = static_cast<CamMethod>(42);
  ExpectError(r, StatusCode::kInvalidArgument, "method 42 is not a CamMethod");
  r.method = CamMethod::kScoreCam;
  r.batch_size = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "batch_size must be in [1, 256] (0: 64), got -1");
  r.batch_size = 257;
  ExpectError(r, StatusCode::kInvalidArgument, "batch_size must be in [1, 256]");
  r = Request();
  r.overlay.image_weight = 1.5f;
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.image_weight must be in [0, 1]");
  r.overlay.image_weight = std::nanf("");
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.image_weight");
  r = Request();
  r.overlay.enabled = true;
  r.overlay.scale = 3;
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.scale 3 is not an OverlayScale");
  r.overlay.scale = 2;  // SCALE_FIXED
  ExpectError(r, StatusCode::kInvalidArgument, "SCALE_FIXED needs overlay.scale_max > 0");
  r.overlay.scale_max = -1;
  ExpectError(r, StatusCode::kInvalidArgument, "SCALE_FIXED needs overlay.scale_max > 0");
  r.overlay.scale = 0;
  r.overlay.scale_max = 1;
  ExpectError(r, StatusCode::kInvalidArgument,
              "overlay.scale_max applies to overlay.scale "
              "SCALE_FIXED only");
  r.overlay.scale = 1;  // SCALE_SHARED
  r.overlay.scale_max = 0;
  r.layers = {"layer3", "layer4"};
  ExpectError(r, StatusCode::kInvalidArgument, "need one layer");
  r = Request();
  r.image.tensor_shape = {3, 100, 100};
  ExpectError(r, StatusCode::kInvalidArgument, "image.tensor.shape");
  r.metrics.enabled = true;  // the metrics perturb the input: its shape is checked first
  ExpectError(r, StatusCode::kInvalidArgument, "image.tensor.shape");
  r = Request();
  r.metrics = {true, -1, false};
  ExpectError(r, StatusCode::kInvalidArgument, "metrics.steps must be in [1, 256] (0: 16), got -1");
  r.metrics.steps = 257;
  ExpectError(r, StatusCode::kInvalidArgument, "metrics.steps must be in [1, 256]");
}

TEST_F(GradCamValidationTest, MetricsComeBesideEveryMapOnRequest) {
  auto r = Request();
  r.target_classes = {9, 2};
  auto plain = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->explanations[0].metrics.has_value());
  r.metrics = {true, 4, false};
  r.batch_size = 3;
  auto scored = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(scored.ok()) << scored.status().ToString();
  ASSERT_EQ(scored->explanations.size(), 2u);
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_EQ(scored->explanations[t].cam.data, plain->explanations[t].cam.data);
    const auto& m = scored->explanations[t].metrics;
    ASSERT_TRUE(m.has_value());
    EXPECT_FALSE(m->random.has_value());
    ASSERT_EQ(m->map.deletion_curve.size(), 5u);
    ASSERT_EQ(m->map.insertion_curve.size(), 5u);
    EXPECT_EQ(m->map.deletion_curve.back(), m->blurred_probability);
    EXPECT_EQ(m->map.insertion_curve.back(), m->probability);
    EXPECT_GT(m->probability, 0.0f);
    EXPECT_GE(m->map.deletion_auc, 0.0f);
    EXPECT_LE(m->map.insertion_auc, 1.0f);
  }
  // Another target, another curve; the ends (input and blurred copy) belong to the target.
  EXPECT_NE(scored->explanations[0].metrics->map.deletion_curve[2],
            scored->explanations[1].metrics->map.deletion_curve[2]);
}

// SCORE_CAM's masked forwards, 512 at layer4, one per batch here: a deadline that passes
// among them stops the work at the next batch.
TEST_F(GradCamValidationTest, ADeadlineThatPassesAmongThePerturbedForwardsStopsThem) {
  auto r = Request();
  r.method = CamMethod::kScoreCam;
  r.batch_size = 1;
  const auto start = Clock::now();
  r.context.deadline = start + std::chrono::milliseconds(400);
  ExpectError(r, StatusCode::kDeadlineExceeded,
              "SCORE_CAM: the deadline passed during the perturbed forwards");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST_F(GradCamValidationTest, ADeadlineThatPassesAmongTheMetricsForwardsStopsThem) {
  auto r = Request();
  r.metrics = {true, 256, true};  // 2 + 3 * 511 forwards, one per batch
  r.batch_size = 1;
  const auto start = Clock::now();
  r.context.deadline = start + std::chrono::milliseconds(600);
  ExpectError(r, StatusCode::kDeadlineExceeded,
              "GRAD_CAM: the deadline passed during the metrics' forwards");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST_F(GradCamValidationTest, SeveralTargetsComeFromOneForwardInRequestOrder) {
  auto r = Request();
  r.target_classes = {9, 2, 9};
  auto result = xai::testing::GradCamAndWait(*explainer_, r);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->explanations.size(), 3u);
  EXPECT_EQ(result->explanations[0].target_class, 9);
  EXPECT_EQ(result->explanations[1].target_class, 2);
  EXPECT_EQ(result->explanations[0].cam.data, result->explanations[2].cam.data);
  EXPECT_NE(result->explanations[0].cam.data, result->explanations[1].cam.data);
}

// tools/make_fixtures.py's "analytic" model: for input channel 0 = P (other channels
// noise that the 1x1 conv ignores), target 0's map is 0.5 * P / 16 for every gradient
// method, and target 1's is -P / 16, nothing after ReLU.
TEST(GradCamAnalyticTest, HandSetWeightsGiveTheExactMap) {
  auto explainer = StartOn(xai::testing::FixtureRepo());
  std::vector<float> input(3 * 4 * 4);
  for (int i = 0; i < 16; ++i) {
    input[i] = static_cast<float>((i * 7) % 16);       // P: a permutation of 0..15
    input[16 + i] = static_cast<float>(i % 3) - 1.0f;  // ignored by the conv
    input[32 + i] = 0.25f * static_cast<float>(i);     // ignored by the conv
  }
  const std::string bytes(reinterpret_cast<const char*>(input.data()),
                          input.size() * sizeof(float));
  // GRAD_CAM_PLUS_PLUS in closed form: gradients are uniform, c_k = fc[t][k] / 16, and
  // A_0 = P, A_1 = -P with sums S_0 = 120, S_1 = -120, so the map is (w_0 - w_1) * P with
  // w_k = 16 * max(c_k, 0) * c_k^2 / (2 c_k^2 + S_k c_k^3 + 1e-6) (0 where c_k = 0).
  auto plus_plus_factor = [](double c0, double c1) {
    auto w = [](double c, double s) {
      return c == 0 ? 0.0 : 16 * std::max(c, 0.0) * c * c / (2 * c * c + s * c * c * c + 1e-6);
    };
    return w(c0, 120.0) - w(c1, -120.0);
  };
  const double plus_plus[2] = {plus_plus_factor(1.0 / 16, 0.5 / 16),
                               plus_plus_factor(0.0, 1.0 / 16)};
  for (int method = 1; method <= 5; ++method) {
    GradCamRequest request;
    request.model = {"analytic", 0};
    request.image.kind = ImageRef::Kind::kTensor;
    request.image.tensor_shape = {3, 4, 4};
    request.image.tensor_data = bytes;
    request.target_classes = {0, 1};
    request.method = static_cast<CamMethod>(method);
    auto result = xai::testing::GradCamAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const CamExplanation& positive = result->explanations[0];
    const CamExplanation& negative = result->explanations[1];
    ASSERT_EQ(positive.raw.shape, (std::vector<int64_t>{4, 4}));
    ASSERT_EQ(positive.cam.shape, (std::vector<int64_t>{4, 4}));
    for (int i = 0; i < 16; ++i) {
      const float p = input[i];
      if (method == 2) {
        ASSERT_GT(plus_plus[0], 0);
        ASSERT_GT(plus_plus[1], 0);  // negative alphas: its map for target 1 is positive
        EXPECT_NEAR(positive.raw.data[i], plus_plus[0] * p, 1e-5 * plus_plus[0] * 15) << "i " << i;
        EXPECT_NEAR(negative.raw.data[i], plus_plus[1] * p, 1e-5 * plus_plus[1] * 15) << "i " << i;
        EXPECT_NEAR(negative.cam.data[i], p / 15.0f, 1e-6f) << "i " << i;
      } else {
        EXPECT_NEAR(positive.raw.data[i], 0.5f * p / 16.0f, 1e-6f)
            << "method " << method << " i " << i;
        EXPECT_EQ(negative.raw.data[i], 0.0f) << "method " << method;
        EXPECT_EQ(negative.cam.data[i], 0.0f) << "method " << method;
      }
      EXPECT_NEAR(positive.cam.data[i], p / 15.0f, 1e-6f) << "method " << method << " i " << i;
    }
  }
}

}  // namespace
}  // namespace xai::core
