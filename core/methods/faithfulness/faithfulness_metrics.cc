#include "core/methods/faithfulness/faithfulness_metrics.h"

namespace xai::core {

std::vector<Perturbation> CurveSteps(int64_t pixels, int steps, bool top_from_input) {
  std::vector<Perturbation> out;
  for (int k = 1; k < steps; ++k) out.push_back({StepPixels(k, pixels, steps), top_from_input});
  return out;
}

std::vector<float> Curve(float first, const std::vector<float>& interior, float last) {
  std::vector<float> curve = {first};
  curve.insert(curve.end(), interior.begin(), interior.end());
  curve.push_back(last);
  return curve;
}

float CurveArea(const std::vector<float>& curve) {
  if (curve.size() < 2) return curve.empty() ? 0.0f : curve[0];
  double sum = 0;
  for (float p : curve) sum += p;
  sum -= 0.5 * (static_cast<double>(curve.front()) + curve.back());
  return static_cast<float>(sum / static_cast<double>(curve.size() - 1));
}

const std::vector<const FaithfulnessMetric*>& FaithfulnessMetricTable() {
  static const std::vector<const FaithfulnessMetric*> table = {
      &DeletionMetric(),
      &InsertionMetric(),
      &Top20Metric(),
  };
  return table;
}

}  // namespace xai::core
