// ABLATION_CAM (Desai and Ramaswamy, 2020), as ../shared/METHODS.md defines it: channel k of
// the layer's output replaced by 0 when the output's minimum is 0, else by that minimum
// minus 1e7, forwarded through the rest of the network; w_k = (s - s_k) / s, s the
// unablated target score.
#include <ATen/ATen.h>

#include "core/methods/cam/perturbation/perturbation_methods.h"

namespace xai::core {
namespace {

class AblationCam final : public PerturbationCamMethod {
 public:
  Site site() const override { return Site::kLayerOutput; }

  // Each channel's ablation is its own, except where the channel already holds the
  // ablation value everywhere (an all-zero channel after a ReLU): that changes nothing.
  std::vector<int64_t> Representatives(const at::Tensor& a) const override {
    const at::Tensor unchanged = (a == Replacement(a)).flatten(1).all(1).to(at::kCPU);
    const auto flags = unchanged.accessor<bool, 1>();
    std::vector<int64_t> out(a.size(0));
    for (int64_t k = 0; k < a.size(0); ++k) out[k] = flags[k] ? kUnchanged : k;
    return out;
  }

  at::Tensor Perturb(const at::Tensor& /*x*/, const at::Tensor& a,
                     const at::Tensor& channels) const override {
    const int64_t n = channels.size(0);
    at::Tensor out = a.unsqueeze(0).repeat({n, 1, 1, 1});
    out.index_put_({at::arange(n, channels.options()), channels},
                   at::scalar_tensor(Replacement(a), a.options()));
    return out;
  }

  at::Tensor Weights(const at::Tensor& scores, const at::Tensor& unperturbed) const override {
    const at::Tensor s = unperturbed.unsqueeze(0);  // [1,T]
    return ((s - scores) / s).t().contiguous();
  }

 private:
  static double Replacement(const at::Tensor& a) {
    const double low = a.min().item<double>();
    return low == 0 ? 0.0 : low - 1e7;
  }
};

}  // namespace

const PerturbationCamMethod& AblationCamMethod() {
  static const AblationCam kMethod;
  return kMethod;
}

}  // namespace xai::core
