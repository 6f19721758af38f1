// Deletion: the map's most important pixels replaced by the blurred copy's, k / steps of
// them at step k; the area under the target's probability from the input (k = 0) to the
// blurred copy (k = steps). A faithful map makes the probability fall early: lower is better.
#include "core/methods/faithfulness/faithfulness_metrics.h"

namespace xai::core {
namespace {

class Deletion : public FaithfulnessMetric {
 public:
  const char* name() const override { return "deletion"; }

  std::vector<Perturbation> Perturbations(int64_t pixels, int steps) const override {
    return CurveSteps(pixels, steps, /*top_from_input=*/false);
  }

  void Score(float input, float blurred, const std::vector<float>& perturbed,
             FaithfulnessScores* out) const override {
    out->deletion_curve = Curve(input, perturbed, blurred);
    out->deletion_auc = CurveArea(out->deletion_curve);
  }
};

}  // namespace

const FaithfulnessMetric& DeletionMetric() {
  static const Deletion metric;
  return metric;
}

}  // namespace xai::core
