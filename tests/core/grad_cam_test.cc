// Grad-CAM against an independent eager-PyTorch reference (tools/cam_reference.py), for
// every gradient method, on traced and scripted models, one and several layers and
// targets; and every bad GradCAM field.
#include <cmath>
#include <fstream>
#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/explainer.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

constexpr float kCamTolerance = 1e-4f;  // on maps normalised to [0,1]

std::string CamReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/cam_reference"; }

std::unique_ptr<Explainer> StartOn(const std::string& repository) {
  ExplainerOptions options;
  options.model_repository = repository;
  options.worker_threads = 1;
  auto explainer = Explainer::Create(options);
  EXPECT_TRUE(explainer.ok()) << explainer.status().ToString();
  (*explainer)->WaitUntilLoaded();
  return std::move(*explainer);
}

StatusOr<GradCamResult> ExplainGradCam(Explainer& explainer, GradCamRequest request) {
  std::promise<StatusOr<GradCamResult>> done;
  explainer.GradCam(std::move(request), [&](StatusOr<GradCamResult> r) { done.set_value(std::move(r)); });
  return done.get_future().get();
}

const char* const kMethods[] = {"GRAD_CAM", "GRAD_CAM_PLUS_PLUS", "XGRAD_CAM", "HIRES_CAM", "LAYER_CAM"};

TEST(GradCamReferenceTest, EveryMethodMatchesPyTorch) {
  std::ifstream manifest_file(CamReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_cam_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  auto explainer = StartOn(CamReferenceDir());
  int compared = 0;
  for (const auto& c : manifest) {
    const std::string input = xai::testing::ReadBytes(CamReferenceDir() + "/" + c["input"].get<std::string>());
    const auto targets = c["targets"].get<std::vector<int>>();
    for (int m = 0; m < 5; ++m) {
      SCOPED_TRACE(c["name"].get<std::string>() + " " + kMethods[m]);
      GradCamRequest request;
      request.model = {c["model"].get<std::string>(), 0};
      request.image.kind = ImageRef::Kind::kTensor;
      request.image.tensor_shape = {1, 3, 224, 224};
      request.image.tensor_data = input;
      request.layers = c["layers"].get<std::vector<std::string>>();
      request.target_classes = targets;
      request.method = m + 1;
      auto result = ExplainGradCam(*explainer, request);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      ASSERT_EQ(result->explanations.size(), targets.size());
      const auto& maps = c["maps"][kMethods[m]];
      const std::vector<float> cams = xai::testing::ReadFloats(CamReferenceDir() + "/" + maps["cam"].get<std::string>());
      const std::vector<float> raws = xai::testing::ReadFloats(CamReferenceDir() + "/" + maps["raw"].get<std::string>());
      const auto raw_shape = maps["raw_shape"].get<std::vector<int64_t>>();
      const size_t cam_size = 224 * 224;
      const size_t raw_size = raw_shape[0] * raw_shape[1];
      for (size_t t = 0; t < targets.size(); ++t) {
        const CamExplanation& e = result->explanations[t];
        EXPECT_EQ(e.target_class, targets[t]);
        ASSERT_EQ(e.cam.shape, (std::vector<int64_t>{224, 224}));
        ASSERT_EQ(e.raw.shape, raw_shape);
        float cam_error = 0;
        for (size_t i = 0; i < cam_size; ++i) {
          cam_error = std::max(cam_error, std::abs(e.cam.data[i] - cams[t * cam_size + i]));
        }
        EXPECT_LE(cam_error, kCamTolerance) << "target " << targets[t];
        float raw_error = 0;
        float raw_max = 0;
        for (size_t i = 0; i < raw_size; ++i) {
          raw_error = std::max(raw_error, std::abs(e.raw.data[i] - raws[t * raw_size + i]));
          raw_max = std::max(raw_max, std::abs(raws[t * raw_size + i]));
        }
        EXPECT_LE(raw_error, 1e-4f * std::max(1.0f, raw_max)) << "target " << targets[t];
        EXPECT_GT(raw_max, 0) << "a degenerate reference proves nothing";
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 5 * 9);  // 9 (case, target) pairs, 5 methods
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
    const auto result = ExplainGradCam(*explainer_, request);
    EXPECT_EQ(result.status().code(), code) << result.status().ToString();
    EXPECT_THAT(result.status().message(), HasSubstr(message));
  }

  static Explainer* explainer_;
  // The reference's first input: random, so that maps are not all zero.
  std::string input_ = xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/input_0.bin");
};

Explainer* GradCamValidationTest::explainer_ = nullptr;

TEST_F(GradCamValidationTest, DefaultsToTheTopClassAndTheDefaultLayer) {
  auto result = ExplainGradCam(*explainer_, Request());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->explanations.size(), 1u);
  EXPECT_EQ(result->explanations[0].target_class, result->classes[0].index);
  EXPECT_EQ(result->explanations[0].raw.shape, (std::vector<int64_t>{7, 7}));  // layer4
  EXPECT_EQ(result->classes.size(), 5u);
}

TEST_F(GradCamValidationTest, BadFieldsAreInvalidArguments) {
  auto r = Request();
  r.layers = {"layer5"};
  ExpectError(r, StatusCode::kInvalidArgument, "layers[0] \"layer5\" is not a module of model 'resnet18' v1; closest CAM layers: layer1, layer2, layer3, layer4, layer1.0");
  r.layers = {"fc"};
  ExpectError(r, StatusCode::kInvalidArgument, "outputs [1, 1000], not a 4-D feature map");
  r.layers = {"layer4..1"};
  ExpectError(r, StatusCode::kInvalidArgument, "is not a module path");
  r.layers = {""};
  ExpectError(r, StatusCode::kInvalidArgument, "layers[0] \"\" is not a module path");
  r.layers = {"layer4", "layer4"};
  ExpectError(r, StatusCode::kInvalidArgument, "layers[1] \"layer4\" is repeated");
  r = Request();
  r.target_classes = {3, 1000};
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes[1] = 1000 is out of range [0, 1000)");
  r.target_classes = {-1};
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes[0] = -1 is out of range");
  r.target_classes = std::vector<int>(65, 1);
  ExpectError(r, StatusCode::kInvalidArgument, "target_classes has 65 entries; at most 64");
  r = Request();
  r.method = 42;
  ExpectError(r, StatusCode::kInvalidArgument, "method 42 is not a CamMethod");
  r.method = 6;
  ExpectError(r, StatusCode::kUnimplemented, "EIGEN_CAM is not served yet");
  r = Request();
  r.overlay.image_weight = 1.5f;
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.image_weight must be in [0, 1]");
  r.overlay.image_weight = std::nanf("");
  ExpectError(r, StatusCode::kInvalidArgument, "overlay.image_weight");
  r = Request();
  r.image.tensor_shape = {3, 100, 100};
  ExpectError(r, StatusCode::kInvalidArgument, "image.tensor.shape");
}

TEST_F(GradCamValidationTest, SeveralTargetsComeFromOneForwardInRequestOrder) {
  auto r = Request();
  r.target_classes = {9, 2, 9};
  auto result = ExplainGradCam(*explainer_, r);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->explanations.size(), 3u);
  EXPECT_EQ(result->explanations[0].target_class, 9);
  EXPECT_EQ(result->explanations[1].target_class, 2);
  EXPECT_EQ(result->explanations[0].cam.data, result->explanations[2].cam.data);
  EXPECT_NE(result->explanations[0].cam.data, result->explanations[1].cam.data);
}

}  // namespace
}  // namespace xai::core
