#include "core/methods/attribution/quadrature.h"

#include <algorithm>
#include <cmath>

namespace xai::core {
namespace {

constexpr double kPi = 3.14159265358979323846;

// P_n(x) and P_n'(x) by the three-term recurrence.
void Legendre(int n, double x, double* p, double* dp) {
  double p0 = 1, p1 = x;
  for (int k = 2; k <= n; ++k) {
    const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  *p = n == 0 ? 1 : p1;
  *dp = n == 0 ? 0 : n * (x * p1 - p0) / (x * x - 1);
}

}  // namespace

Quadrature MakeQuadrature(IntegrationRule rule, int steps) {
  const int n = steps < 1 ? 1 : steps;
  Quadrature q;
  q.alphas.resize(n);
  q.weights.assign(n, 1.0 / n);
  switch (rule) {
    case IntegrationRule::kGaussLegendre:
      for (int i = 0; i < n; ++i) {
        // The i-th root from the largest, refined by Newton's method from Tricomi's guess.
        double x = std::cos(kPi * (i + 0.75) / (n + 0.5));
        double p = 0, dp = 1;
        for (int iteration = 0; iteration < 100; ++iteration) {
          Legendre(n, x, &p, &dp);
          const double step = p / dp;
          x -= step;
          if (std::abs(step) < 1e-16) break;
        }
        Legendre(n, x, &p, &dp);
        const double weight = 2 / ((1 - x * x) * dp * dp);
        // Roots come largest first: store them ascending.
        q.alphas[n - 1 - i] = (1 + x) / 2;
        q.weights[n - 1 - i] = weight / 2;
      }
      break;
    case IntegrationRule::kRiemannLeft:
      for (int i = 0; i < n; ++i) q.alphas[i] = static_cast<double>(i) / n;
      break;
    case IntegrationRule::kRiemannRight:
      for (int i = 0; i < n; ++i) q.alphas[i] = static_cast<double>(i + 1) / n;
      break;
    case IntegrationRule::kRiemannMiddle:
      for (int i = 0; i < n; ++i) q.alphas[i] = (i + 0.5) / n;
      break;
    case IntegrationRule::kRiemannTrapezoid:
      if (n == 1) {
        q.alphas[0] = 0.5;
        break;
      }
      for (int i = 0; i < n; ++i) {
        q.alphas[i] = static_cast<double>(i) / (n - 1);
        q.weights[i] = (i == 0 || i == n - 1 ? 0.5 : 1.0) / (n - 1);
      }
      break;
  }
  return q;
}

bool RuleNests(IntegrationRule rule) { return rule != IntegrationRule::kGaussLegendre; }

std::vector<int> StepLevels(IntegrationRule rule, int cap, bool adaptive) {
  if (!adaptive) return {cap};
  int n = kAdaptiveFirstSteps + (rule == IntegrationRule::kRiemannTrapezoid ? 1 : 0);
  std::vector<int> levels = {std::min(n, cap)};
  while (n < cap) {
    int next = 2 * n;
    if (rule == IntegrationRule::kRiemannMiddle) next = 3 * n;
    if (rule == IntegrationRule::kRiemannTrapezoid) next = 2 * n - 1;
    if (next > cap) {
      if (RuleNests(rule)) break;  // a nested level past the cap: stop at the last one under it
      next = cap;
    }
    levels.push_back(next);
    n = next;
  }
  return levels;
}

}  // namespace xai::core
