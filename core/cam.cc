#include "core/cam.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/upsampling.h>

namespace xai::core {

std::string_view CamMethodName(CamMethod method) {
  switch (method) {
    case CamMethod::kGradCam:
      return "GRAD_CAM";
    case CamMethod::kGradCamPlusPlus:
      return "GRAD_CAM_PLUS_PLUS";
    case CamMethod::kXGradCam:
      return "XGRAD_CAM";
    case CamMethod::kHiResCam:
      return "HIRES_CAM";
    case CamMethod::kLayerCam:
      return "LAYER_CAM";
    case CamMethod::kEigenCam:
      return "EIGEN_CAM";
    case CamMethod::kEigenGradCam:
      return "EIGEN_GRAD_CAM";
    case CamMethod::kScoreCam:
      return "SCORE_CAM";
    case CamMethod::kAblationCam:
      return "ABLATION_CAM";
  }
  return "UNKNOWN";
}

bool IsGradientMethod(CamMethod method) {
  return static_cast<int>(method) >= 1 && static_cast<int>(method) <= 5;
}

at::Tensor CamMap(const at::Tensor& a, const at::Tensor& g, CamMethod method) {
  switch (method) {
    case CamMethod::kGradCam: {
      const at::Tensor weights = g.mean({1, 2});  // [K]
      return (weights.view({-1, 1, 1}) * a).sum(0);
    }
    case CamMethod::kGradCamPlusPlus: {
      const at::Tensor g2 = g.pow(2);
      const at::Tensor g3 = g2 * g;
      const at::Tensor sum_a = a.sum({1, 2}, /*keepdim=*/true);
      at::Tensor alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6);
      alpha = at::where(g != 0, alpha, at::zeros_like(alpha));
      const at::Tensor weights = (at::relu(g) * alpha).sum({1, 2});
      return (weights.view({-1, 1, 1}) * a).sum(0);
    }
    case CamMethod::kXGradCam: {
      const at::Tensor sum_a = a.sum({1, 2}, /*keepdim=*/true);
      const at::Tensor weights = (g * a / (sum_a + 1e-7)).sum({1, 2});
      return (weights.view({-1, 1, 1}) * a).sum(0);
    }
    case CamMethod::kHiResCam:
      return (g * a).sum(0);
    case CamMethod::kLayerCam:
      return (at::relu(g) * a).sum(0);
    default:
      break;
  }
  TORCH_CHECK(false, "CamMap: ", CamMethodName(method), " is not a gradient method");
}

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
