// HIRES_CAM (Draelos and Carin): the element-wise product of gradients and activations.
#include <ATen/ATen.h>

#include "core/methods/cam/gradient/gradient_methods.h"

namespace xai::core {
namespace {

class HiResCam final : public GradientCamMethod {
 public:
  at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const override { return g * a; }
};

}  // namespace

const GradientCamMethod& HiResCamMethod() {
  static const HiResCam kMethod;
  return kMethod;
}

}  // namespace xai::core
