// Encoded image bytes -> the model's input tensor, as the model's InputSpec says:
// decode (OpenCV), color order, resize, scale to [0,1], normalise with mean/std.
#ifndef XAI_CORE_IMAGE_IMAGE_PREPROCESSOR_H_
#define XAI_CORE_IMAGE_IMAGE_PREPROCESSOR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <opencv2/core.hpp>
#include <string_view>

#include "core/base/status.h"
#include "xai/v1/model_config.pb.h"

namespace xai::core {

// Where the model's input pixels came from in the original image. A model-input pixel
// centre (u, v) lies at original coordinates
//   x = (u + crop_x + 0.5) * original_width / resized_width - 0.5
//   y = (v + crop_y + 0.5) * original_height / resized_height - 0.5
// (pixel-centre convention, as OpenCV's resize).
struct InputGeometry {
  int original_width = 0;
  int original_height = 0;
  int resized_width = 0;  // the image after resizing, before the crop
  int resized_height = 0;
  int crop_x = 0;  // offset of the model input inside the resized image
  int crop_y = 0;

  double OriginalX(double u) const {
    return (u + crop_x + 0.5) * original_width / resized_width - 0.5;
  }
  double OriginalY(double v) const {
    return (v + crop_y + 0.5) * original_height / resized_height - 0.5;
  }
};

struct PreprocessedImage {
  at::Tensor input;  // [1,C,H,W] float32, CPU, normalised
  InputGeometry geometry;
  cv::Mat original;  // the decoded image, 8-bit BGR, when asked to keep it
};

struct ImagePreprocessorOptions {
  // Largest width * height accepted, checked from the header before decoding.
  int64_t max_pixels = 50'000'000;
  // Largest width or height accepted, checked the same way.
  int64_t max_side = 16384;
};

// Thread safe: Preprocess keeps no state between calls.
class ImagePreprocessor {
 public:
  explicit ImagePreprocessor(ImagePreprocessorOptions options) : options_(options) {}

  // Decodes `encoded` (JPEG, PNG, BMP, WebP, TIFF or PNM, recognised from their headers;
  // OpenCV's other decoders are not exposed to callers; gray, RGB, RGBA, 8- and 16-bit;
  // alpha is dropped, EXIF orientation is ignored as PIL does) and prepares it for a model
  // with input `spec` (already validated).
  // Errors: INVALID_ARGUMENT (empty, another format, undecodable, unsupported pixel type)
  // naming image.encoded, also when the header gives more pixels than max_pixels or a side
  // longer than max_side (before anything is decoded: a limit of the request, which a retry
  // does not pass, so not RESOURCE_EXHAUSTED, which clients retry).
  // Resizing uses OpenCV's INTER_AREA when shrinking both sides (antialiased, close to
  // PIL's), INTER_LINEAR otherwise.
  // With `keep_original`, the result also holds the decoded image as 8-bit BGR (16-bit
  // scaled down, gray expanded, alpha dropped), for overlays.
  StatusOr<PreprocessedImage> Preprocess(std::string_view encoded, const xai::v1::InputSpec& spec,
                                         bool keep_original = false) const;

  const ImagePreprocessorOptions& options() const { return options_; }

 private:
  // INVALID_ARGUMENT when a width x height image is over max_pixels or max_side.
  Status CheckSize(int64_t width, int64_t height) const;

  ImagePreprocessorOptions options_;
};

// The resize that `mode` applies to an original_width x original_height image for a
// width x height input (no pixels touched).
InputGeometry ComputeGeometry(int original_width, int original_height, int width, int height,
                              xai::v1::ResizeMode mode);

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_IMAGE_PREPROCESSOR_H_
