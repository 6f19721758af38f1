// GRAD_CAM_PLUS_PLUS (Chattopadhyay et al.), with pytorch-grad-cam's closed-form alphas.
#include <ATen/ATen.h>

#include "core/methods/cam/gradient/gradient_methods.h"

namespace xai::core {
namespace {

class GradCamPlusPlus final : public GradientCamMethod {
 public:
  at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const override {
    const at::Tensor g2 = g.pow(2);
    const at::Tensor g3 = g2 * g;
    const at::Tensor sum_a = a.sum({-2, -1}, /*keepdim=*/true);
    at::Tensor alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6);
    alpha = at::where(g != 0, alpha, at::zeros_like(alpha));
    const at::Tensor weights = (at::relu(g) * alpha).sum({-2, -1}, /*keepdim=*/true);
    return weights * a;
  }
};

}  // namespace

const GradientCamMethod& GradCamPlusPlusMethod() {
  static const GradCamPlusPlus kMethod;
  return kMethod;
}

}  // namespace xai::core
