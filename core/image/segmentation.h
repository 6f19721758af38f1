// XRAI's over-segmentation: Felzenszwalb's graph segmentation (OpenCV's ximgproc
// GraphSegmentation, from Debian's libopencv-contrib-dev) at several scales, as the
// reference implementation (Google PAIR's `saliency` library) prepares it.
#ifndef XAI_CORE_IMAGE_SEGMENTATION_H_
#define XAI_CORE_IMAGE_SEGMENTATION_H_

#include <ATen/core/Tensor.h>

#include <vector>

#include "core/base/status.h"

namespace xai::core {

struct SegmentationOptions {
  std::vector<double> scales = {50, 100, 150, 250, 500, 1200};  // Felzenszwalb's k
  double sigma = 0.8;                                           // Gaussian smoothing first
  int min_size = 150;  // pixels at `side` x `side`: smaller segments merge
  int side = 224;      // the image is segmented at this size
  int dilation = 5;    // disk radius at 224 pixels, scaled with the image's side
};

// Segments of `image` ([3,H,W] float, any range), each a mask: [M,H,W] bool. The image is
// resized to side x side (bicubic), min-max normalised to [-1, 1] (the reference's range;
// k applies to it as skimage's scale does), smoothed and segmented at each scale; the
// labels go back to H x W (nearest), and each segment's mask is dilated by a disk of radius
// round(dilation * max(H, W) / 224) (at least 1). INTERNAL when OpenCV fails.
StatusOr<at::Tensor> XraiSegments(const at::Tensor& image, const SegmentationOptions& options);

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_SEGMENTATION_H_
