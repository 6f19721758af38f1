// EIGEN_CAM (Muhammad and Yeasin): the activations' projection on their first principal
// component, from the activations alone; EIGEN_GRAD_CAM: the same of gradients times
// activations. The projection's sign is oriented (FirstComponentProjection).
#include <ATen/ATen.h>

#include "core/methods/cam/activation/activation_methods.h"
#include "core/methods/cam/cam.h"

namespace xai::core {
namespace {

class EigenCam final : public ActivationCamMethod {
 public:
  bool needs_gradients() const override { return false; }
  at::Tensor Map(const at::Tensor& a, const at::Tensor& /*g*/) const override {
    return FirstComponentProjection(a);
  }
};

class EigenGradCam final : public ActivationCamMethod {
 public:
  bool needs_gradients() const override { return true; }
  at::Tensor Map(const at::Tensor& a, const at::Tensor& g) const override {
    return FirstComponentProjection(g * a);
  }
};

}  // namespace

const ActivationCamMethod& EigenCamMethod() {
  static const EigenCam kMethod;
  return kMethod;
}

const ActivationCamMethod& EigenGradCamMethod() {
  static const EigenGradCam kMethod;
  return kMethod;
}

}  // namespace xai::core
