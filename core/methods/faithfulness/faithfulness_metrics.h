// The faithfulness metric table: each metric names the perturbed inputs it reads and turns
// the target's probabilities on them into its score. The runner (faithfulness.h) builds
// and forwards the inputs of every metric in shared batches.
#ifndef XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_METRICS_H_
#define XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_METRICS_H_

#include <cstdint>
#include <vector>

#include "core/methods/faithfulness/faithfulness.h"

namespace xai::core {

// One perturbed input: the `top` most important pixels (all channels) from the input when
// `top_from_input`, else from the blurred copy; every other pixel from the other one.
struct Perturbation {
  int64_t top = 0;
  bool top_from_input = false;
};

// The pixels changed at step k of `steps` for an image of `pixels` pixels: floor(k * pixels /
// steps).
inline int64_t StepPixels(int k, int64_t pixels, int steps) { return k * pixels / steps; }

// The interior steps of a curve, k = 1 .. steps - 1 (the ends are the input and the blurred
// copy): StepPixels(k) top pixels from the input when `top_from_input`, else blurred.
std::vector<Perturbation> CurveSteps(int64_t pixels, int steps, bool top_from_input);

// The curve `first`, `interior`..., `last`.
std::vector<float> Curve(float first, const std::vector<float>& interior, float last);

// The trapezoidal area under `curve`, its points evenly spaced on [0, 1].
float CurveArea(const std::vector<float>& curve);

class FaithfulnessMetric {
 public:
  virtual ~FaithfulnessMetric() = default;
  virtual const char* name() const = 0;
  // The perturbed inputs whose probabilities it reads, beyond the input and the blurred copy.
  virtual std::vector<Perturbation> Perturbations(int64_t pixels, int steps) const = 0;
  // Writes its score from the target's probability on the input, on the blurred copy, and
  // on each of Perturbations() in order.
  virtual void Score(float input, float blurred, const std::vector<float>& perturbed,
                     FaithfulnessScores* out) const = 0;
};

// Every metric, in the order of FaithfulnessScores.
const std::vector<const FaithfulnessMetric*>& FaithfulnessMetricTable();

// The rows (one file each).
const FaithfulnessMetric& DeletionMetric();
const FaithfulnessMetric& InsertionMetric();
const FaithfulnessMetric& Top20Metric();

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_METRICS_H_
