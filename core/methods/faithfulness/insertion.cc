// Insertion: the blurred copy with the map's most important pixels revealed from the input,
// k / steps of them at step k; the area under the target's probability from the blurred copy
// (k = 0) to the input (k = steps). A faithful map makes it rise early: higher is better.
#include "core/methods/faithfulness/faithfulness_metrics.h"

namespace xai::core {
namespace {

class Insertion : public FaithfulnessMetric {
 public:
  const char* name() const override { return "insertion"; }

  std::vector<Perturbation> Perturbations(int64_t pixels, int steps) const override {
    return CurveSteps(pixels, steps, /*top_from_input=*/true);
  }

  void Score(float input, float blurred, const std::vector<float>& perturbed,
             FaithfulnessScores* out) const override {
    out->insertion_curve = Curve(blurred, perturbed, input);
    out->insertion_auc = CurveArea(out->insertion_curve);
  }
};

}  // namespace

const FaithfulnessMetric& InsertionMetric() {
  static const Insertion metric;
  return metric;
}

}  // namespace xai::core
