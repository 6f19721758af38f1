// Integrated Gradients (Sundararajan et al., 2017), as Captum computes it:
// (x - x0) * sum_i w_i * d f / d x at x0 + alpha_i (x - x0), the quadrature of the rule
// (quadrature.h); with several baselines, the mean of their attributions. The logits at the
// input and the baselines give the convergence delta sum(attribution) - (f(x) - f(x0)).
#include <ATen/ATen.h>

#include "core/methods/attribution/attribution_methods.h"
#include "core/methods/attribution/quadrature.h"

namespace xai::core {
namespace {

class IntegratedGradients : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    const Quadrature q = MakeQuadrature(context.rule, context.steps);
    const auto options = context.input.options();
    const at::Tensor alphas = at::tensor(q.alphas, at::kDouble).to(options).view({-1, 1, 1, 1});
    const at::Tensor weights = at::tensor(q.weights, at::kDouble).to(options).view({-1, 1, 1, 1});
    const int64_t steps = static_cast<int64_t>(q.alphas.size());
    const int64_t count = static_cast<int64_t>(context.baselines.size());
    // Every baseline's points in one call, so that they share batches; the logits at the
    // ends (the input and the baselines) from one forward without autograd.
    std::vector<at::Tensor> points;
    for (const at::Tensor& baseline : context.baselines) {
      points.push_back(baseline + alphas * (context.input - baseline));
    }
    XAI_ASSIGN_OR_RETURN(const PointGradients g, context.gradients(at::cat(points)));
    std::vector<at::Tensor> ends = {context.input};
    ends.insert(ends.end(), context.baselines.begin(), context.baselines.end());
    XAI_ASSIGN_OR_RETURN(const at::Tensor end_logits, context.logits(at::cat(ends)));
    at::Tensor sum = at::zeros_like(context.input[0]);
    for (int64_t b = 0; b < count; ++b) {
      const at::Tensor grads = g.gradients.narrow(0, b * steps, steps);
      sum += (context.input[0] - context.baselines[b][0]) * (grads * weights).sum(0);
    }
    AttributionOutput out;
    out.attribution = (sum / static_cast<double>(count)).to(at::kFloat);
    out.integrates = true;
    out.steps = static_cast<int>(steps);
    const at::Tensor f = end_logits.to(at::kCPU, at::kDouble);
    out.logit = static_cast<float>(f[0].item<double>());
    out.baseline_logit = static_cast<float>(f.narrow(0, 1, count).mean().item<double>());
    out.delta = static_cast<float>(out.attribution.sum().item<double>() -
                                   (f[0].item<double>() - out.baseline_logit));
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& IntegratedGradientsMethod() {
  static const IntegratedGradients method;
  return method;
}

}  // namespace xai::core
