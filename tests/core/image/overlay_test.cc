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
#include "zlib.h"

namespace xai::core {
namespace {

using xai::testing::CamReferenceDir;

cv::Mat Decode(const std::string& png) {
  return cv::imdecode(
      cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
      cv::IMREAD_COLOR);
}

// The overlay says what it is in its tEXt Description chunk (valid: its CRC is the one
// libpng checks), before IEND; the pixels are the same with and without it.
TEST(OverlayTest, ThePngCarriesItsDescription) {
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  cv::Mat cam(8, 8, CV_32F, cv::Scalar(0.25f));
  OverlayStyle style;
  const auto plain = RenderOverlayPng(image, cam, style);
  style.description = "GRAD_CAM of class 3 (star) at stage4. Colours: jet, red (raw 0.7223)\n";
  const auto described = RenderOverlayPng(image, cam, style);
  ASSERT_TRUE(plain.ok() && described.ok());
  // Control characters become '?'.
  const std::string text = std::string("tEXtDescription") + '\0' +
                           "GRAD_CAM of class 3 (star) at stage4. Colours: jet, red (raw 0.7223)?";
  const size_t at = described->find("tEXt");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(described->substr(at, text.size()), text);
  EXPECT_EQ(described->size(), plain->size() + 4 + text.size() + 4);
  EXPECT_EQ(described->substr(described->size() - 12, 8), std::string("\0\0\0\0IEND", 8));
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  const auto* stored = reinterpret_cast<const unsigned char*>(described->data()) + at + text.size();
  EXPECT_EQ(static_cast<uint32_t>(stored[0] << 24 | stored[1] << 16 | stored[2] << 8 | stored[3]),
            crc);
  const cv::Mat a = Decode(*plain), b = Decode(*described);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0);
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

TEST(AttributionOverlayTest, PercentilesInterpolateAsNumpy) {
  std::vector<float> v;
  for (int i = 1; i <= 1000; ++i) v.push_back(static_cast<float>(i));
  EXPECT_FLOAT_EQ(Percentile(v, 50), 500.5f);
  EXPECT_FLOAT_EQ(Percentile(v, 99.9f), 999.001f);
  EXPECT_FLOAT_EQ(Percentile(v, 0), 1.0f);
  EXPECT_FLOAT_EQ(Percentile(v, 100), 1000.0f);
  EXPECT_FLOAT_EQ(Percentile({3, 1, 2}, 50), 2.0f);  // unsorted input
}

TEST(AttributionOverlayTest, ScalingKeepsThePolarityAndClipsAtThePercentiles) {
  // -5 ... 14 in a row: 20 pixels.
  cv::Mat map(1, 20, CV_32F);
  for (int i = 0; i < 20; ++i) map.at<float>(0, i) = static_cast<float>(i - 5);
  // POSITIVE: negatives count as 0; the 90th percentile of [0 x 6, 1 .. 14] is 12.1.
  const cv::Mat pos = ScaleAttribution(map, AttributionPolarity::kPositive, 0, 90);
  EXPECT_FLOAT_EQ(pos.at<float>(0, 0), 0.0f);  // -5
  EXPECT_FLOAT_EQ(pos.at<float>(0, 5), 0.0f);  // 0
  EXPECT_NEAR(pos.at<float>(0, 11), 6 / 12.1f, 1e-6);
  EXPECT_FLOAT_EQ(pos.at<float>(0, 19), 1.0f);  // 14, above the percentile: clipped
  // NEGATIVE: only -5 .. -1, as 5 .. 1.
  const cv::Mat neg = ScaleAttribution(map, AttributionPolarity::kNegative, 0, 100);
  EXPECT_FLOAT_EQ(neg.at<float>(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(neg.at<float>(0, 4), 0.2f);
  EXPECT_FLOAT_EQ(neg.at<float>(0, 10), 0.0f);
  // BOTH: |v| scaled, the sign kept; a lower percentile cuts the small ones to 0.
  const cv::Mat both = ScaleAttribution(map, AttributionPolarity::kBoth, 25, 100);
  EXPECT_FLOAT_EQ(both.at<float>(0, 19), 1.0f);
  EXPECT_LT(both.at<float>(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(both.at<float>(0, 6), 0.0f);  // |1| below the 25th percentile of |v|
}

TEST(AttributionOverlayTest, KindsDrawOverTheImageAGrayCopyOrAsAMask) {
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(40, 120, 200));  // BGR
  cv::Mat scaled(8, 8, CV_32F, cv::Scalar(0));
  scaled.at<float>(2, 3) = 1.0f;
  scaled.at<float>(5, 5) = 0.5f;
  AttributionStyle style;
  style.kind = AttributionOverlayKind::kMaskedImage;
  const cv::Mat masked = Decode(*RenderAttributionPng(image, scaled, style, {}));
  EXPECT_EQ(masked.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));  // no attribution: black
  EXPECT_EQ(masked.at<cv::Vec3b>(2, 3), cv::Vec3b(40, 120, 200));
  EXPECT_EQ(masked.at<cv::Vec3b>(5, 5), cv::Vec3b(20, 60, 100));
  style.kind = AttributionOverlayKind::kOverGrayscale;
  style.image_weight = 1.0f;  // the base alone: gray
  const cv::Mat gray = Decode(*RenderAttributionPng(image, scaled, style, {}));
  const cv::Vec3b g = gray.at<cv::Vec3b>(0, 0);
  EXPECT_EQ(g[0], g[1]);
  EXPECT_EQ(g[1], g[2]);
  // BOTH on its default map: -1 blue, +1 red, heat alone (weight 0).
  style.kind = AttributionOverlayKind::kOverImage;
  style.polarity = AttributionPolarity::kBoth;
  style.image_weight = 0.0f;
  scaled.at<float>(0, 0) = -1.0f;
  const cv::Mat diverging = Decode(*RenderAttributionPng(image, scaled, style, {}));
  EXPECT_EQ(diverging.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(diverging.at<cv::Vec3b>(2, 3), cv::Vec3b(0, 0, 255));
  const cv::Vec3b middle = diverging.at<cv::Vec3b>(7, 7);  // 0: white-ish (level 127)
  EXPECT_GE(std::min({middle[0], middle[1], middle[2]}), 250);
}

TEST(AttributionOverlayTest, OutlinesFollowTheirMasks) {
  cv::Mat image(40, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat scaled(40, 40, CV_32F, cv::Scalar(0));
  cv::Mat region(40, 40, CV_8U, cv::Scalar(0));
  region(cv::Rect(10, 10, 12, 12)).setTo(255);
  AttributionStyle style;
  style.kind = AttributionOverlayKind::kMaskedImage;  // black everywhere
  const cv::Mat drawn = Decode(*RenderAttributionPng(image, scaled, style, {region}));
  EXPECT_EQ(drawn.at<cv::Vec3b>(10, 15), cv::Vec3b(255, 255, 255));  // on the edge: white
  EXPECT_EQ(drawn.at<cv::Vec3b>(16, 16), cv::Vec3b(0, 0, 0));        // inside
  EXPECT_EQ(drawn.at<cv::Vec3b>(30, 30), cv::Vec3b(0, 0, 0));        // outside
}

}  // namespace
}  // namespace xai::core
