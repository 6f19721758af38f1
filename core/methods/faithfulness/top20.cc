// The target's probability when only the map's top 20% of pixels (floor(pixels / 5)) are kept
// and every other pixel comes from the blurred copy: one forward.
#include "core/methods/faithfulness/faithfulness_metrics.h"

namespace xai::core {
namespace {

class Top20 : public FaithfulnessMetric {
 public:
  const char* name() const override { return "top20"; }

  std::vector<Perturbation> Perturbations(int64_t pixels, int /*steps*/) const override {
    return {{pixels / 5, true}};
  }

  void Score(float /*input*/, float /*blurred*/, const std::vector<float>& perturbed,
             FaithfulnessScores* out) const override {
    out->top20_probability = perturbed.at(0);
  }
};

}  // namespace

const FaithfulnessMetric& Top20Metric() {
  static const Top20 metric;
  return metric;
}

}  // namespace xai::core
