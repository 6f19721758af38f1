// LAYER_CAM (Jiang et al.): activations weighted by the positive gradients, per position.
#include <ATen/ATen.h>

#include "core/methods/cam/gradient/gradient_methods.h"

namespace xai::core {
namespace {

class LayerCam final : public GradientCamMethod {
 public:
  at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const override {
    return at::relu(g) * a;
  }
};

}  // namespace

const GradientCamMethod& LayerCamMethod() {
  static const LayerCam kMethod;
  return kMethod;
}

}  // namespace xai::core
