// SmoothGrad (Smilkov et al., 2017), as Captum's NoiseTunnel with nt_type "smoothgrad"
// computes it: the mean of a method's attributions at `samples` copies of the input, each
// with Gaussian noise of standard deviation noise_sigma added. The method averaged is
// Saliency (|gradient|, Captum's default abs=True), InputXGradient (the noisy copy times its
// gradient) or Integrated Gradients (of each noisy copy, from the same baselines).
#include <ATen/ATen.h>

#include <limits>

#include "core/methods/attribution/attribution_methods.h"
#include "core/methods/attribution/sampling.h"

namespace xai::core {
namespace {

class SmoothGrad : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    const at::Tensor& x = context.input;
    const int64_t samples = context.samples;
    auto noisy = [&context, &x](int64_t sample) {
      return NoisyCopy(x, context.noise_sigma, context.seed, sample);
    };
    AttributionOutput out;
    out.logit = static_cast<float>(context.input_logit);
    at::Tensor sum = at::zeros_like(x[0]);
    if (context.smoothed == AttributionMethod::kIntegratedGradients) {
      for (int64_t sample = 0; sample < samples; ++sample) {
        AttributionContext copy = context;
        copy.input = noisy(sample);
        copy.input_logit = std::numeric_limits<double>::quiet_NaN();
        copy.max_approximation_error = 0;
        XAI_ASSIGN_OR_RETURN(const AttributionOutput one,
                             IntegratedGradientsMethod().Attribute(copy));
        sum += one.attribution;
      }
    } else {
      const bool absolute = context.smoothed == AttributionMethod::kSaliency;
      at::Tensor points;  // the batch being evaluated
      XAI_RETURN_IF_ERROR(context.gradients(
          samples,
          [&](int64_t begin, int64_t n) {
            std::vector<at::Tensor> copies;
            for (int64_t s = begin; s < begin + n; ++s) copies.push_back(noisy(s));
            points = at::cat(copies);
            return points;
          },
          [&](int64_t, const at::Tensor&, const at::Tensor& g) {
            sum += (absolute ? g.abs() : points * g).sum(0);
          }));
    }
    out.attribution = (sum / static_cast<double>(samples)).to(at::kFloat);
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& SmoothGradMethod() {
  static const SmoothGrad method;
  return method;
}

}  // namespace xai::core
