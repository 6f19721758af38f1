// Overlays: pixel-exact against show_cam_on_image (numpy + OpenCV, written by
// tools/cam_reference.py), geometry back to the original image, and sizes through the
// request path.
#include "core/image/overlay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

std::string CamReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/cam_reference"; }

cv::Mat Decode(const std::string& png) {
  return cv::imdecode(
      cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
      cv::IMREAD_COLOR);
}

TEST(OverlayTest, MatchesShowCamOnImagePixelForPixel) {
  std::string image_bytes = xai::testing::ReadBytes(CamReferenceDir() + "/overlay_image.bin");
  std::vector<float> cam_values = xai::testing::ReadFloats(CamReferenceDir() + "/overlay_cam.bin");
  ASSERT_EQ(image_bytes.size(), 37u * 53u * 3u);
  const cv::Mat image(37, 53, CV_8UC3, image_bytes.data());
  const cv::Mat cam(37, 53, CV_32F, cam_values.data());
  for (float weight : {0.5f, 0.3f}) {
    OverlayStyle style;
    style.image_weight = weight;
    auto png = RenderOverlayPng(image, cam, style);
    ASSERT_TRUE(png.ok()) << png.status().ToString();
    const cv::Mat decoded = Decode(*png);
    char name[64];
    std::snprintf(name, sizeof(name), "/overlay_expected_%g.bin", weight);
    std::string expected = xai::testing::ReadBytes(CamReferenceDir() + name);
    ASSERT_EQ(decoded.total() * 3, expected.size());
    int different = 0;
    for (size_t i = 0; i < expected.size(); ++i)
      different += decoded.data[i] != static_cast<uchar>(expected[i]);
    EXPECT_EQ(different, 0) << "weight " << weight;
  }
}

TEST(OverlayTest, ColormapsByName) {
  EXPECT_EQ(ColormapByName(""), cv::COLORMAP_JET);
  EXPECT_EQ(ColormapByName("turbo"), cv::COLORMAP_TURBO);
  EXPECT_FALSE(ColormapByName("Jet").has_value());
  EXPECT_FALSE(ColormapByName("rainbowz").has_value());
}

// A CAM with its peak at model-input pixel (u, v) must peak at the original pixel that
// preprocessing took (u, v) from.
void ExpectPeakMapsBack(xai::v1::ResizeMode mode, int original_width, int original_height) {
  const int side = 64;
  const InputGeometry g = ComputeGeometry(original_width, original_height, side, side, mode);
  for (const auto& [u, v] : {std::pair{10, 50}, std::pair{40, 5}, std::pair{63, 63}}) {
    cv::Mat cam = cv::Mat::zeros(side, side, CV_32F);
    cam.at<float>(v, u) = 1.0f;
    const cv::Mat back = CamToOriginal(cam, g);
    ASSERT_EQ(back.cols, original_width);
    ASSERT_EQ(back.rows, original_height);
    cv::Point peak;
    cv::minMaxLoc(back, nullptr, nullptr, nullptr, &peak);
    EXPECT_NEAR(peak.x, g.OriginalX(u), 1.0) << "u " << u << " mode " << mode;
    EXPECT_NEAR(peak.y, g.OriginalY(v), 1.0) << "v " << v << " mode " << mode;
  }
}

TEST(OverlayTest, PeaksLandOnTheRightOriginalPixel) {
  ExpectPeakMapsBack(xai::v1::STRETCH, 300, 170);
  ExpectPeakMapsBack(xai::v1::SHORTER_SIDE_CENTER_CROP, 300, 170);
  ExpectPeakMapsBack(xai::v1::SHORTER_SIDE_CENTER_CROP, 90, 250);
}

TEST(OverlayTest, CroppedAwayPixelsGetNoHeat) {
  const InputGeometry g = ComputeGeometry(300, 100, 50, 50, xai::v1::SHORTER_SIDE_CENTER_CROP);
  const cv::Mat back = CamToOriginal(cv::Mat::ones(50, 50, CV_32F), g);
  EXPECT_EQ(back.at<float>(50, 0), 0.0f);    // left, cut away
  EXPECT_EQ(back.at<float>(50, 299), 0.0f);  // right, cut away
  EXPECT_EQ(back.at<float>(50, 150), 1.0f);  // centre, kept
}

TEST(OverlayTest, RequestPathDrawsOverTheOriginalOrTheInput) {
  ExplainerOptions options;
  options.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  auto explainer = Explainer::Create(options);
  ASSERT_TRUE(explainer.ok());
  (*explainer)->WaitUntilLoaded();
  cv::Mat original(90, 160, CV_8UC3, cv::Scalar(40, 80, 120));
  cv::circle(original, {120, 45}, 25, cv::Scalar(0, 255, 0), cv::FILLED);
  std::vector<uchar> png;
  cv::imencode(".png", original, png);
  const std::string bytes(png.begin(), png.end());

  for (bool model_input_size : {false, true}) {
    GradCamRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.overlay.enabled = true;
    request.overlay.model_input_size = model_input_size;
    request.overlay.colormap = "viridis";
    request.overlay.png_compression = 9;
    auto result = xai::testing::GradCamAndWait(**explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const cv::Mat overlay = Decode(result->explanations[0].overlay_png);
    EXPECT_EQ(overlay.cols, model_input_size ? 64 : 160);
    EXPECT_EQ(overlay.rows, model_input_size ? 64 : 90);
  }
}

}  // namespace
}  // namespace xai::core
