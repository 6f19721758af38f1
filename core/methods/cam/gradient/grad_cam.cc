// GRAD_CAM (Selvaraju et al.): channel weights are the gradients' spatial means.
#include <ATen/ATen.h>

#include "core/methods/cam/gradient/gradient_methods.h"

namespace xai::core {
namespace {

class GradCam final : public GradientCamMethod {
 public:
  at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const override {
    const at::Tensor weights = g.mean({-2, -1}, /*keepdim=*/true);  // [...,K,1,1]
    return weights * a;
  }
};

}  // namespace

const GradientCamMethod& GradCamMethod() {
  static const GradCam kMethod;
  return kMethod;
}

}  // namespace xai::core
