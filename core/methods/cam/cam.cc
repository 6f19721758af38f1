#include "core/methods/cam/cam.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/upsampling.h>

namespace xai::core {

at::Tensor FeatureMapView(const at::Tensor& a, const LayerLayout& layout) {
  const int64_t batch = a.size(0);
  switch (layout.kind) {
    case FeatureLayout::kNhwc:
      TORCH_CHECK(a.dim() == 4, "an NHWC layer's output must be 4-D, got ", a.sizes());
      return a.permute({0, 3, 1, 2});
    case FeatureLayout::kTokens:
      TORCH_CHECK(a.dim() == 3 && a.size(1) == layout.prefix_tokens + layout.height * layout.width,
                  "a TOKENS layer's output must be [B, ", layout.prefix_tokens, " + ",
                  layout.height, " * ", layout.width, ", C], got ", a.sizes());
      return a.narrow(1, layout.prefix_tokens, layout.height * layout.width)
          .reshape({batch, layout.height, layout.width, a.size(2)})
          .permute({0, 3, 1, 2});
    case FeatureLayout::kNchw:
    case FeatureLayout::kNone:
      break;
  }
  TORCH_CHECK(a.dim() == 4, "an NCHW layer's output must be 4-D, got ", a.sizes());
  return a;
}

at::Tensor FromFeatureMapView(const at::Tensor& maps, const LayerLayout& layout,
                              const at::Tensor& original) {
  switch (layout.kind) {
    case FeatureLayout::kNhwc:
      return maps.permute({0, 2, 3, 1}).contiguous();
    case FeatureLayout::kTokens: {
      const int64_t n = maps.size(0);
      const at::Tensor grid = maps.permute({0, 2, 3, 1}).reshape({n, -1, maps.size(1)});
      const at::Tensor prefix =
          original.narrow(1, 0, layout.prefix_tokens).expand({n, layout.prefix_tokens, -1});
      return at::cat({prefix.to(grid.scalar_type()), grid}, 1);
    }
    case FeatureLayout::kNchw:
    case FeatureLayout::kNone:
      break;
  }
  return maps;
}

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
