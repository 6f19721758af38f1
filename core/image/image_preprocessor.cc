#include "core/image/image_preprocessor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/image/image_header.h"
#include "core/repository/model_config.h"

namespace xai::core {
namespace {

std::string PixelLimitMessage(int64_t width, int64_t height, int64_t limit) {
  return "image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
         std::to_string(width * height) + " pixels, over the limit of " + std::to_string(limit) +
         " pixels";
}

// Converts decoded pixels (1, 3 or 4 channels in OpenCV's BGR(A) order) to the model's
// color order, keeping the depth.
cv::Mat ToColorOrder(const cv::Mat& decoded, xai::v1::ColorOrder order) {
  cv::Mat out;
  const int channels = decoded.channels();
  switch (order) {
    case xai::v1::GRAY:
      if (channels == 1) return decoded;
      cv::cvtColor(decoded, out, channels == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
      return out;
    case xai::v1::BGR:
      if (channels == 3) return decoded;
      cv::cvtColor(decoded, out, channels == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
      return out;
    default:  // RGB
      cv::cvtColor(decoded, out,
                   channels == 4   ? cv::COLOR_BGRA2RGB
                   : channels == 3 ? cv::COLOR_BGR2RGB
                                   : cv::COLOR_GRAY2RGB);
      return out;
  }
}

// 8-bit BGR copy of decoded pixels (1, 3 or 4 channels; `scale` maps them to [0,1]).
cv::Mat ToBgr8(const cv::Mat& decoded, double scale) {
  cv::Mat bgr;
  if (decoded.channels() == 1) {
    cv::cvtColor(decoded, bgr, cv::COLOR_GRAY2BGR);
  } else if (decoded.channels() == 4) {
    cv::cvtColor(decoded, bgr, cv::COLOR_BGRA2BGR);
  } else {
    bgr = decoded;
  }
  cv::Mat out;
  bgr.convertTo(out, CV_8U, scale * 255.0);
  return out;
}

}  // namespace

InputGeometry ComputeGeometry(int original_width, int original_height, int width, int height,
                              xai::v1::ResizeMode mode) {
  InputGeometry g;
  g.original_width = original_width;
  g.original_height = original_height;
  if (mode == xai::v1::SHORTER_SIDE_CENTER_CROP) {
    const double scale = std::max(static_cast<double>(width) / original_width,
                                  static_cast<double>(height) / original_height);
    g.resized_width = std::max(width, static_cast<int>(std::lround(original_width * scale)));
    g.resized_height = std::max(height, static_cast<int>(std::lround(original_height * scale)));
    // torchvision's CenterCrop rounds the offset the same way.
    g.crop_x = static_cast<int>(std::lround((g.resized_width - width) / 2.0));
    g.crop_y = static_cast<int>(std::lround((g.resized_height - height) / 2.0));
  } else {
    g.resized_width = width;
    g.resized_height = height;
  }
  return g;
}

Status ImagePreprocessor::CheckSize(int64_t width, int64_t height) const {
  // Sides first: a header may claim sides near 2^32, whose product overflows int64.
  if (std::max(width, height) > options_.max_side) {
    return InvalidArgumentError("image is " + std::to_string(width) + "x" + std::to_string(height) +
                                ", a side over the limit of " + std::to_string(options_.max_side) +
                                " pixels");
  }
  if (width * height > options_.max_pixels) {
    return InvalidArgumentError(PixelLimitMessage(width, height, options_.max_pixels));
  }
  return OkStatus();
}

StatusOr<PreprocessedImage> ImagePreprocessor::Preprocess(std::string_view encoded,
                                                          const xai::v1::InputSpec& spec,
                                                          bool keep_original) const {
  if (encoded.empty()) return InvalidArgumentError("image.encoded is empty");
  // Only formats whose size the header gives are decoded: the limits hold before any
  // decoder runs, and OpenCV's rarer decoders (JPEG 2000, OpenEXR, HDR, ...) stay out of
  // reach of callers.
  const std::optional<ImageHeader> header = ReadImageHeader(encoded);
  if (!header) {
    return InvalidArgumentError("image.encoded (" + std::to_string(encoded.size()) +
                                " bytes) is not a PNG, JPEG, BMP, WebP, TIFF or PNM image");
  }
  if (header->width <= 0 || header->height <= 0) {
    return InvalidArgumentError("image.encoded: " + header->format + " header gives a size of " +
                                std::to_string(header->width) + "x" +
                                std::to_string(header->height));
  }
  if (const std::optional<std::string> foreign = ForeignSignature(encoded)) {
    return InvalidArgumentError("image.encoded: a " + header->format + " header, but a " +
                                *foreign + "; refused");
  }
  XAI_RETURN_IF_ERROR(CheckSize(header->width, header->height));

  cv::Mat decoded;
  try {
    const cv::Mat raw(1, static_cast<int>(encoded.size()), CV_8UC1,
                      const_cast<char*>(encoded.data()));  // imdecode only reads it
    decoded = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return InvalidArgumentError("image.encoded does not decode: " + std::string(e.err));
  } catch (const std::exception& e) {  // a codec library's own exception
    return InvalidArgumentError("image.encoded does not decode: " + std::string(e.what()));
  }
  if (decoded.empty()) {
    return InvalidArgumentError("image.encoded (" + std::to_string(encoded.size()) +
                                " bytes) is not an image OpenCV can decode (JPEG, PNG, BMP, "
                                "WebP, TIFF, PNM, ...)");
  }
  XAI_RETURN_IF_ERROR(CheckSize(decoded.cols, decoded.rows));
  double scale = 1.0;
  switch (decoded.depth()) {
    case CV_8U:
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      scale = 1.0 / 65535.0;
      break;
    case CV_32F:
      break;  // assumed already in [0,1]
    default:
      return InvalidArgumentError("image.encoded has an unsupported pixel type (OpenCV depth " +
                                  std::to_string(decoded.depth()) +
                                  "); accepted: 8-bit, 16-bit unsigned, 32-bit float");
  }
  if (decoded.channels() == 2) {  // gray + alpha: keep the gray
    cv::extractChannel(decoded, decoded, 0);
  }

  try {
    cv::Mat pixels = ToColorOrder(decoded, spec.color_order());
    const InputGeometry geometry =
        ComputeGeometry(pixels.cols, pixels.rows, spec.width(), spec.height(), spec.resize());
    if (geometry.resized_width != pixels.cols || geometry.resized_height != pixels.rows) {
      const bool shrink =
          geometry.resized_width <= pixels.cols && geometry.resized_height <= pixels.rows;
      cv::Mat resized;
      cv::resize(pixels, resized, cv::Size(geometry.resized_width, geometry.resized_height), 0, 0,
                 shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
      pixels = resized;
    }
    pixels = pixels(cv::Rect(geometry.crop_x, geometry.crop_y, spec.width(), spec.height()));
    cv::Mat scaled;
    pixels.convertTo(scaled, CV_32F, scale);  // also makes it continuous

    const int channels = ChannelsOf(spec.color_order());
    // Copied out of the cv::Mat, which dies with this scope. (contiguous() would not copy
    // a single channel: [1,H,W] permuted from [H,W,1] already counts as contiguous.)
    at::Tensor input = at::empty({channels, spec.height(), spec.width()}, at::kFloat);
    input.copy_(at::from_blob(scaled.data, {spec.height(), spec.width(), channels}, at::kFloat)
                    .permute({2, 0, 1}));
    if (spec.mean_size() > 0) {
      input.sub_(at::tensor(std::vector<float>(spec.mean().begin(), spec.mean().end()))
                     .view({channels, 1, 1}));
    }
    if (spec.std_size() > 0) {
      input.div_(at::tensor(std::vector<float>(spec.std().begin(), spec.std().end()))
                     .view({channels, 1, 1}));
    }
    PreprocessedImage out{input.unsqueeze(0), geometry, cv::Mat()};
    if (keep_original) out.original = ToBgr8(decoded, scale);
    return out;
  } catch (const std::exception& e) {
    return InternalError(std::string("preprocessing failed: ") + e.what());
  }
}

}  // namespace xai::core
