#include "core/methods/cam/cam.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/upsampling.h>

namespace xai::core {

at::Tensor ResizeBilinear(const at::Tensor& map, int64_t height, int64_t width) {
  const int64_t h = map.size(-2), w = map.size(-1);
  if (h == height && w == width) return map;
  namespace F = torch::nn::functional;
  std::vector<int64_t> out_shape = map.sizes().vec();
  out_shape[out_shape.size() - 2] = height;
  out_shape[out_shape.size() - 1] = width;
  // align_corners=false is OpenCV's convention: source = (dst + 0.5) * in/out - 0.5,
  // clamped at the borders; no antialiasing.
  return F::interpolate(map.reshape({-1, 1, h, w}), F::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{height, width})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false))
      .view(out_shape);
}

at::Tensor FirstComponentProjection(const at::Tensor& activations) {
  const int64_t k = activations.size(-3), h = activations.size(-2), w = activations.size(-1);
  at::Tensor m =
      at::where(at::isnan(activations), at::zeros({}, activations.options()), activations);
  m = m.reshape({-1, k, h * w}).transpose(1, 2);  // [B, h*w, K]
  m = m - m.mean(1, /*keepdim=*/true);
  const at::Tensor vh = std::get<2>(at::linalg_svd(m, /*full_matrices=*/false));  // [B,r,K]
  at::Tensor projection = at::matmul(m, vh.select(1, 0).unsqueeze(-1)).squeeze(-1);
  const at::Tensor peak = projection.gather(1, projection.abs().argmax(1, /*keepdim=*/true));
  projection = at::where(peak < 0, -projection, projection);
  std::vector<int64_t> shape = activations.sizes().vec();
  shape.erase(shape.end() - 3);  // drop K
  return projection.reshape(shape);
}

at::Tensor ScaleCam(const at::Tensor& map, int64_t height, int64_t width) {
  at::Tensor scaled = map - map.amin({-2, -1}, /*keepdim=*/true);
  scaled = scaled / (1e-7 + scaled.amax({-2, -1}, /*keepdim=*/true));
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
