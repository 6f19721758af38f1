#include "core/methods/cam/cam.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/upsampling.h>

namespace xai::core {

at::Tensor ResizeBilinear(const at::Tensor& map, int64_t height, int64_t width) {
  if (map.size(0) == height && map.size(1) == width) return map;
  namespace F = torch::nn::functional;
  // align_corners=false is OpenCV's convention: source = (dst + 0.5) * in/out - 0.5,
  // clamped at the borders; no antialiasing.
  return F::interpolate(map.view({1, 1, map.size(0), map.size(1)}),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{height, width})
                            .mode(torch::kBilinear)
                            .align_corners(false))
      .view({height, width});
}

at::Tensor ScaleCam(const at::Tensor& map, int64_t height, int64_t width) {
  at::Tensor scaled = map - map.min();
  scaled = scaled / (1e-7 + scaled.max());
  if (height > 0 && width > 0) scaled = ResizeBilinear(scaled, height, width);
  return scaled;
}

at::Tensor CombineLayerMaps(const std::vector<at::Tensor>& relu_maps, int64_t height,
                            int64_t width) {
  std::vector<at::Tensor> scaled;
  scaled.reserve(relu_maps.size());
  for (const at::Tensor& map : relu_maps) scaled.push_back(ScaleCam(map, height, width));
  return ScaleCam(at::relu(at::stack(scaled)).mean(0));
}

}  // namespace xai::core
