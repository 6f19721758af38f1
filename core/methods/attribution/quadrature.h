// Integrated Gradients' quadrature on [0, 1], as Captum's approximation_parameters define it:
// the points alpha_i at which the gradient is taken and the weights w_i of the sum
// sum_i w_i * gradient(baseline + alpha_i * (input - baseline)).
#ifndef XAI_CORE_METHODS_ATTRIBUTION_QUADRATURE_H_
#define XAI_CORE_METHODS_ATTRIBUTION_QUADRATURE_H_

#include <vector>

#include "core/methods/attribution/attribution_method.h"

namespace xai::core {

struct Quadrature {
  std::vector<double> alphas;
  std::vector<double> weights;
};

// `steps` >= 1 points of `rule`:
// - Gauss-Legendre: the n-point rule's nodes x_i and weights v_i on [-1, 1] (Newton's
//   iteration on the Legendre polynomial, to double precision), mapped to
//   alpha_i = (1 + x_i) / 2, w_i = v_i / 2, in ascending alpha;
// - Riemann left, right, middle: alpha_i = i/n, (i+1)/n, (i+1/2)/n, weights 1/n;
// - trapezoid: alpha_i = i/(n-1), weights 1/(n-1) with half weights at the ends (n >= 2;
//   n = 1, which Captum refuses and validation does too, gives alpha 0.5 and weight 1).
Quadrature MakeQuadrature(IntegrationRule rule, int steps);

// Whether the rule's adaptive levels nest (each level's points hold the previous level's):
// the Riemann rules; not Gauss-Legendre.
bool RuleNests(IntegrationRule rule);

// The step counts Integrated Gradients evaluates: {cap} in fixed mode; adaptive, levels from
// kAdaptiveFirstSteps (the trapezoid: one more point), Gauss-Legendre, left and right doubling,
// middle tripling, the trapezoid doubling its intervals (9, 17, 33, ...). A nested level past
// the cap is dropped (the last level is the largest under it); Gauss-Legendre ends at the cap.
std::vector<int> StepLevels(IntegrationRule rule, int cap, bool adaptive);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_QUADRATURE_H_
