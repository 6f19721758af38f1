// XGRAD_CAM (Fu et al.): gradients weighted by the normalised activations.
#include <ATen/ATen.h>

#include "core/methods/cam/gradient/gradient_methods.h"

namespace xai::core {
namespace {

class XGradCam final : public GradientCamMethod {
 public:
  at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const override {
    const at::Tensor sum_a = a.sum({-2, -1}, /*keepdim=*/true);
    const at::Tensor weights = (g * a / (sum_a + 1e-7)).sum({-2, -1}, /*keepdim=*/true);
    return weights * a;
  }
};

}  // namespace

const GradientCamMethod& XGradCamMethod() {
  static const XGradCam kMethod;
  return kMethod;
}

}  // namespace xai::core
