// GradientShap (Lundberg and Lee, 2017), as Captum computes it: for each of `samples`
// samples, a baseline b drawn uniformly from the given ones, the input with Gaussian noise
// of standard deviation noise_sigma added (x'; none by default), alpha uniform in [0, 1],
// and (x' - b) times the gradient at b + alpha (x' - b); the attribution is their mean. In
// expectation, Integrated Gradients averaged over the baselines.
#include <ATen/ATen.h>

#include <algorithm>

#include "core/methods/attribution/attribution_methods.h"
#include "core/methods/attribution/sampling.h"

namespace xai::core {
namespace {

class GradientShap : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    const at::Tensor& x = context.input;
    const int64_t count = static_cast<int64_t>(context.baselines.size());
    at::Tensor sum = at::zeros_like(x[0]);
    at::Tensor differences;  // x' - b of the batch being evaluated
    XAI_RETURN_IF_ERROR(context.gradients(
        context.samples,
        [&](int64_t begin, int64_t n) {
          std::vector<at::Tensor> points, diffs;
          for (int64_t s = begin; s < begin + n; ++s) {
            const auto drawn = static_cast<int64_t>(
                UniformDraw(context.seed, s, DrawStream::kBaseline) * static_cast<double>(count));
            const at::Tensor& b = context.baselines[std::min(drawn, count - 1)];
            const double alpha = UniformDraw(context.seed, s, DrawStream::kAlpha);
            const at::Tensor noisy = NoisyCopy(x, context.noise_sigma, context.seed, s);
            diffs.push_back(noisy - b);
            points.push_back(b + diffs.back() * alpha);
          }
          differences = at::cat(diffs);
          return at::cat(points);
        },
        [&](int64_t, const at::Tensor&, const at::Tensor& g) { sum += (differences * g).sum(0); }));
    AttributionOutput out;
    out.logit = static_cast<float>(context.input_logit);
    out.attribution = (sum / static_cast<double>(context.samples)).to(at::kFloat);
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& GradientShapMethod() {
  static const GradientShap method;
  return method;
}

}  // namespace xai::core
