// Heatmap overlays: a CAM taken back to the original image's pixels, colored and blended
// as pytorch-grad-cam's show_cam_on_image does, encoded as PNG.
#ifndef XAI_CORE_IMAGE_OVERLAY_H_
#define XAI_CORE_IMAGE_OVERLAY_H_

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/image/image_preprocessor.h"

namespace xai::core {

struct OverlayStyle {
  float image_weight = 0.5f;  // result = (1 - w) * heatmap + w * image
  int colormap = 2;           // cv::COLORMAP_JET
  int png_compression = 1;    // zlib level 1-9
  // The PNG's tEXt "Description": what the map is and what its colours stand for; "": none.
  std::string description;
};

// The OpenCV colormap called `name` ("" and "jet": JET; see explainer.proto for the
// list), or nullopt.
std::optional<int> ColormapByName(const std::string& name);

// `cam` ([H,W] CV_32F in [0,1], at the model's input size) resampled onto the original
// image through the inverse of the preprocessing in `geometry`: bilinear, pixel centres
// as OpenCV's resize; original pixels the crop cut away get 0.
cv::Mat CamToOriginal(const cv::Mat& cam, const InputGeometry& geometry);

// show_cam_on_image: heatmap = colormap(uint8(255 * cam)) / 255, blended with `image`
// (8-bit, BGR, same size as `cam`) scaled to [0,1], divided by the result's maximum, then
// uint8(255 * result) with truncation. Returns the PNG's bytes; INTERNAL if encoding fails.
StatusOr<std::string> RenderOverlayPng(const cv::Mat& image_bgr, const cv::Mat& cam,
                                       const OverlayStyle& style);

// Attribution overlays (Attribute): which sign is drawn, and over what.
enum class AttributionPolarity { kPositive = 0, kNegative = 1, kBoth = 2 };
enum class AttributionOverlayKind { kOverImage = 0, kOverGrayscale = 1, kMaskedImage = 2 };

struct AttributionStyle {
  AttributionPolarity polarity = AttributionPolarity::kPositive;
  AttributionOverlayKind kind = AttributionOverlayKind::kOverImage;
  float image_weight = 0.5f;    // kOverImage, kOverGrayscale: the image's share
  std::optional<int> colormap;  // unset: JET; kBoth: blue-white-red
  int png_compression = 1;
  std::string description;  // the PNG's tEXt "Description" (OverlayStyle's)
};

// A percentile of `values` as numpy's default (linear between the order statistics).
float Percentile(std::vector<float> values, float percentile);

// `map` ([H,W] CV_32F, signed) scaled for drawing: the polarity's values (POSITIVE: v > 0,
// NEGATIVE: -v > 0, BOTH: |v|), m = clip((value - lower) / (upper - lower), 0, 1) with
// lower and upper the percentiles of those values (pixels of the other sign count as 0);
// BOTH keeps the sign: [-1, 1]. Upper equal to lower draws everything above it at full
// strength.
cv::Mat ScaleAttribution(const cv::Mat& map, AttributionPolarity polarity, float lower_percentile,
                         float upper_percentile);

// Draws `scaled` (ScaleAttribution's, at the image's size) over `image_bgr`: kOverImage
// blends colormap(scaled) as RenderOverlayPng does, kOverGrayscale the same over a grayscale
// copy, kMaskedImage multiplies the image by |scaled|. Then each of `outlines` (CV_8U
// masks at the image's size, non-zero inside) is outlined: white, yellow, cyan, magenta,
// green, 2 pixels wide. Returns the PNG's bytes; INTERNAL if encoding fails.
StatusOr<std::string> RenderAttributionPng(const cv::Mat& image_bgr, const cv::Mat& scaled,
                                           const AttributionStyle& style,
                                           const std::vector<cv::Mat>& outlines);

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_OVERLAY_H_
