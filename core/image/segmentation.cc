#include "core/image/segmentation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/segmentation.hpp>
#include <string>

namespace xai::core {

StatusOr<at::Tensor> XraiSegments(const at::Tensor& image, const SegmentationOptions& options) {
  if (image.dim() != 3 || image.size(0) != 3) {
    return InvalidArgumentError("XRAI segments 3-channel images");
  }
  const int height = static_cast<int>(image.size(1));
  const int width = static_cast<int>(image.size(2));
  try {
    // [H,W,3] float32, min-max normalised to [-1, 1], then x 255: skimage's felzenszwalb
    // divides its scale by 255, so OpenCV's k on this image is the reference's scale.
    at::Tensor hwc = image.to(at::kCPU, at::kFloat).permute({1, 2, 0}).contiguous();
    const float low = hwc.min().item<float>(), high = hwc.max().item<float>();
    hwc = (hwc - low) / std::max(high - low, 1e-12f) * 510.0f - 255.0f;
    cv::Mat pixels(height, width, CV_32FC3, hwc.data_ptr<float>());
    cv::Mat resized;
    if (height == options.side && width == options.side) {
      resized = pixels.clone();
    } else {
      cv::resize(pixels, resized, cv::Size(options.side, options.side), 0, 0, cv::INTER_CUBIC);
    }
    const int radius = std::max(
        1, static_cast<int>(std::lround(options.dilation * std::max(height, width) / 224.0)));
    const cv::Mat disk =
        cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1));
    std::vector<at::Tensor> masks;
    for (const double scale : options.scales) {
      cv::Ptr<cv::ximgproc::segmentation::GraphSegmentation> segmenter =
          cv::ximgproc::segmentation::createGraphSegmentation(
              options.sigma, static_cast<float>(scale), options.min_size);
      cv::Mat labels;
      segmenter->processImage(resized, labels);
      if (labels.rows != height || labels.cols != width) {
        cv::Mat back;
        cv::resize(labels, back, cv::Size(width, height), 0, 0, cv::INTER_NEAREST);
        labels = back;
      }
      double most = 0;
      cv::minMaxLoc(labels, nullptr, &most);
      for (int label = 0; label <= static_cast<int>(most); ++label) {
        cv::Mat mask = labels == label;             // 255 where the segment is
        if (cv::countNonZero(mask) == 0) continue;  // lost to the resize
        cv::Mat dilated;
        cv::dilate(mask, dilated, disk);
        masks.push_back(
            at::from_blob(dilated.data, {height, width}, at::kByte).clone().to(at::kBool));
      }
    }
    return at::stack(masks);
  } catch (const std::exception& e) {
    return InternalError(std::string("XRAI's segmentation failed: ") + e.what());
  }
}

}  // namespace xai::core
