// SCORE_CAM (Wang et al., 2020), as pytorch-grad-cam computes it: every channel of the
// layer, upsampled to the input (align_corners bilinear) and min-max scaled to [0,1], masks
// the input; the channel's weight is the softmax over channels of the target's logit on
// its masked input.
#include <ATen/ATen.h>

#include <string>
#include <unordered_map>

#include "core/methods/cam/perturbation/perturbation_methods.h"

namespace xai::core {
namespace {

class ScoreCam final : public PerturbationCamMethod {
 public:
  Site site() const override { return Site::kInput; }

  // A channel's mask is a function of its values alone: equal channels share one, and
  // every constant channel scales to the all-zero mask (a zero input).
  std::vector<int64_t> Representatives(const at::Tensor& a) const override {
    const at::Tensor values = a.to(at::kCPU, at::kFloat).contiguous().flatten(1);
    const at::Tensor constant = (values.amax(1) == values.amin(1));
    const int64_t channels = values.size(0);
    const size_t bytes = static_cast<size_t>(values.size(1)) * sizeof(float);
    std::vector<int64_t> out(channels);
    std::unordered_map<std::string, int64_t> first;
    const auto* data = static_cast<const char*>(values.data_ptr());
    const auto is_constant = constant.accessor<bool, 1>();
    for (int64_t k = 0; k < channels; ++k) {
      std::string key =
          is_constant[k] ? std::string("constant") : std::string(data + k * bytes, bytes);
      out[k] = first.emplace(std::move(key), k).first->second;
    }
    return out;
  }

  at::Tensor Perturb(const at::Tensor& x, const at::Tensor& a,
                     const at::Tensor& channels) const override {
    const at::Tensor selected = a.index_select(0, channels).unsqueeze(0);  // [1,n,h,w]
    const at::Tensor up =
        at::upsample_bilinear2d(selected, {x.size(2), x.size(3)}, /*align_corners=*/true)[0];
    const at::Tensor flat = up.flatten(1);
    const at::Tensor low = flat.amin(1).view({-1, 1, 1});
    const at::Tensor high = flat.amax(1).view({-1, 1, 1});
    const at::Tensor masks = (up - low) / (high - low + 1e-8);  // [n,H,W]
    return x * masks.unsqueeze(1).to(x.scalar_type());          // [n,C,H,W]
  }

  at::Tensor Weights(const at::Tensor& scores, const at::Tensor& /*unperturbed*/) const override {
    return at::softmax(scores, 0).t().contiguous();
  }
};

}  // namespace

const PerturbationCamMethod& ScoreCamMethod() {
  static const ScoreCam kMethod;
  return kMethod;
}

}  // namespace xai::core
