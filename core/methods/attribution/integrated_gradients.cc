// Integrated Gradients (Sundararajan et al., 2017), as Captum computes it:
// (x - x0) * sum_i w_i * d f / d x at x0 + alpha_i (x - x0), the quadrature of the rule
// (quadrature.h); with several baselines, the mean of their attributions. The logits at the
// input and the baselines give the convergence delta sum(attribution) - (f(x) - f(x0)).
//
// Adaptive mode (max_approximation_error > 0) evaluates levels of rising steps, from
// kAdaptiveFirstSteps up to `steps`, until |delta| / |f(x) - f(x0)| meets the bound. The
// Riemann rules' levels nest (left and right double, middle triples, the trapezoid doubles
// its intervals), so a level evaluates only its new points and sums them with the earlier
// ones; Gauss-Legendre's nodes do not nest, so each of its levels (doubling) starts afresh.
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <string>

#include "core/methods/attribution/attribution_methods.h"
#include "core/methods/attribution/quadrature.h"

namespace xai::core {
namespace {

// Indices of `alphas` (ascending) absent from `previous` (ascending).
std::vector<int64_t> NewNodes(const std::vector<double>& alphas,
                              const std::vector<double>& previous) {
  std::vector<int64_t> out;
  size_t p = 0;
  for (size_t i = 0; i < alphas.size(); ++i) {
    while (p < previous.size() && previous[p] < alphas[i] - 1e-9) ++p;
    if (p < previous.size() && std::abs(previous[p] - alphas[i]) <= 1e-9) continue;
    out.push_back(static_cast<int64_t>(i));
  }
  return out;
}

class IntegratedGradients : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    using Clock = std::chrono::steady_clock;
    const at::Tensor& x = context.input;
    const at::Tensor bases = at::cat(context.baselines);  // [B,C,H,W]
    const int64_t count = bases.size(0);
    const auto options = x.options();
    // f at the baselines (and at the input when the runner did not give it), no autograd.
    const bool input_known = !std::isnan(context.input_logit);
    XAI_ASSIGN_OR_RETURN(const at::Tensor end_logits,
                         context.logits(input_known ? bases : at::cat({x, bases})));
    const at::Tensor f = end_logits.to(at::kCPU, at::kDouble);
    const double fx = input_known ? context.input_logit : f[0].item<double>();
    const double fb = f.narrow(0, input_known ? 0 : 1, count).mean().item<double>();
    const double gap = fx - fb;

    const bool adaptive = context.max_approximation_error > 0;
    const std::vector<int> levels = StepLevels(context.rule, context.steps, adaptive);
    const bool nests = RuleNests(context.rule);
    // Per baseline: sum_i c1_i g_i and sum_i c2_i g_i. Gauss-Legendre: c1 = w_i, c2 = 0;
    // the Riemann rules, whose weights depend only on n and on whether alpha is an end:
    // c1 = 1, c2 = 1 at alpha 0 or 1.
    at::Tensor s1 = at::zeros_like(bases);
    at::Tensor s2 = at::zeros_like(bases);
    std::vector<double> previous;
    AttributionOutput out;
    out.logit = static_cast<float>(fx);
    out.baseline_logit = static_cast<float>(fb);
    out.integrates = true;
    out.adaptive = adaptive;
    for (size_t level = 0; level < levels.size(); ++level) {
      const int n = levels[level];
      const Quadrature q = MakeQuadrature(context.rule, n);
      if (!nests) {
        s1.zero_();
        previous.clear();
      }
      const std::vector<int64_t> nodes = NewNodes(q.alphas, previous);
      const int64_t m = static_cast<int64_t>(nodes.size());
      std::vector<double> alpha(m), c1(m), c2(m);
      for (int64_t j = 0; j < m; ++j) {
        const double a = q.alphas[nodes[j]];
        alpha[j] = a;
        c1[j] = nests ? 1.0 : q.weights[nodes[j]];
        c2[j] = nests && (a == 0.0 || a == 1.0) ? 1.0 : 0.0;
      }
      const at::Tensor alpha_t = at::tensor(alpha, at::kDouble).to(options);
      const at::Tensor c1_t = at::tensor(c1, at::kDouble).to(options);
      const at::Tensor c2_t = at::tensor(c2, at::kDouble).to(options);
      // Point k: baseline k / m at node k % m.
      auto indices = [m, &options](int64_t begin, int64_t size) {
        const at::Tensor k = at::arange(begin, begin + size, options.dtype(at::kLong));
        return std::make_pair(at::div(k, m, "floor"), at::remainder(k, m));
      };
      const auto started = Clock::now();
      XAI_RETURN_IF_ERROR(context.gradients(
          count * m,
          [&](int64_t begin, int64_t size) {
            const auto [b, j] = indices(begin, size);
            const at::Tensor base = bases.index_select(0, b);
            return base + alpha_t.index_select(0, j).view({-1, 1, 1, 1}) * (x - base);
          },
          [&](int64_t begin, const at::Tensor&, const at::Tensor& g) {
            const auto [b, j] = indices(begin, g.size(0));
            s1.index_add_(0, b, g * c1_t.index_select(0, j).view({-1, 1, 1, 1}));
            if (nests) s2.index_add_(0, b, g * c2_t.index_select(0, j).view({-1, 1, 1, 1}));
          }));
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      previous = q.alphas;
      at::Tensor integral = s1;
      if (nests) {
        const bool trapezoid = context.rule == IntegrationRule::kRiemannTrapezoid && n > 1;
        const double interior = trapezoid ? 1.0 / (n - 1) : 1.0 / n;
        const double end = trapezoid ? 0.5 / (n - 1) : 1.0 / n;
        integral = (s1 - s2) * interior + s2 * end;
      }
      out.attribution = ((x - bases) * integral).mean(0).to(at::kFloat);
      out.steps = n;
      out.delta = static_cast<float>(out.attribution.sum().item<double>() - gap);
      if (!adaptive) break;
      if (std::abs(gap) < kMeaningfulLogitGap) {
        out.unmet_reason =
            "|f(x) - f(baseline)| is below 0.05: more steps cannot make the relative error mean "
            "anything";
        break;
      }
      const double error = std::abs(out.delta) / std::max(std::abs(gap), 1e-30);
      if (error <= context.max_approximation_error) {
        out.error_met = true;
        break;
      }
      if (level + 1 == levels.size()) {
        out.unmet_reason = "the step cap was reached (steps " + std::to_string(context.steps) +
                           "; the rule's last level under it has " + std::to_string(n) + ")";
        break;
      }
      const int next = levels[level + 1];
      const double next_points = static_cast<double>(count) * (nests ? next - n : next);
      const double estimate = seconds / static_cast<double>(count * m) * next_points;
      if (estimate > context.seconds_left()) {
        out.unmet_reason =
            "the deadline would pass during the next level (" + std::to_string(next) + " steps)";
        break;
      }
    }
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& IntegratedGradientsMethod() {
  static const IntegratedGradients method;
  return method;
}

}  // namespace xai::core
