// Heatmap overlays: a CAM taken back to the original image's pixels, colored and blended
// as pytorch-grad-cam's show_cam_on_image does, encoded as PNG.
#ifndef XAI_CORE_IMAGE_OVERLAY_H_
#define XAI_CORE_IMAGE_OVERLAY_H_

#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "core/base/status.h"
#include "core/image/image_preprocessor.h"

namespace xai::core {

struct OverlayStyle {
  float image_weight = 0.5f;  // result = (1 - w) * heatmap + w * image
  int colormap = 2;           // cv::COLORMAP_JET
  int png_compression = 1;    // zlib level 1-9
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

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_OVERLAY_H_
