// The pixel attribution method table: each method turns the gradients of the target's logit
// with respect to the input, at points it chooses, into an attribution of the input. The
// runner (attribution.h) evaluates the gradients in batches on the instance, so that a
// method never holds more than a batch of points or gradients.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_
#define XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/attribution/attribution_method.h"

namespace xai::core {

// Points [begin, begin + n) of a method's sequence of points: [n,C,H,W] on the device.
using PointsFn = std::function<at::Tensor(int64_t begin, int64_t n)>;
// A batch's target logits [n] and input gradients [n,C,H,W] on the device, batches in order.
using GradientsFn =
    std::function<void(int64_t begin, const at::Tensor& logits, const at::Tensor& gradients)>;

struct AttributionContext {
  at::Tensor input;                   // [1,C,H,W], on the instance's device
  std::vector<at::Tensor> baselines;  // each [1,C,H,W], on the device; at least one
  // The target's logit at `input` when known (the runner's first forward); NaN: unknown.
  double input_logit = std::numeric_limits<double>::quiet_NaN();
  int steps = 50;
  IntegrationRule rule = IntegrationRule::kGaussLegendre;
  // Integrated Gradients: > 0 raises the steps from kAdaptiveFirstSteps until the
  // approximation error is at most this, `steps` (the cap) is reached or the time left
  // would not hold the next level.
  double max_approximation_error = 0;
  // SMOOTH_GRAD, GRADIENT_SHAP: samples, the absolute standard deviation of the Gaussian
  // noise added to the input, the seed of every draw, and what SMOOTH_GRAD averages.
  int samples = 5;
  double noise_sigma = 0;
  uint64_t seed = 0;
  AttributionMethod smoothed = AttributionMethod::kSaliency;
  // XRAI: the image's candidate regions, [M,H,W] bool on the CPU.
  at::Tensor segments;
  // Evaluates the gradients at `count` points, batch by batch, handing each batch to
  // `consume`; stops with the request's interruption (deadline, cancellation).
  std::function<Status(int64_t count, const PointsFn& points, const GradientsFn& consume)>
      gradients;
  // The target's logits at `points` ([N]), forwards without autograd.
  std::function<StatusOr<at::Tensor>(const at::Tensor& points)> logits;
  // Seconds until the request's deadline (infinity without one).
  std::function<double()> seconds_left;
};

struct AttributionOutput {
  at::Tensor attribution;  // [C,H,W], float32
  at::Tensor map;          // [H,W] when the method has its own (XRAI); else the channel sum
  float logit = 0;         // the target's logit at the input
  // Methods that integrate (Integrated Gradients): the logit on the baseline (the mean over
  // baselines), sum(attribution) - (logit - baseline_logit) and the steps used.
  bool integrates = false;
  float baseline_logit = 0;
  float delta = 0;
  int steps = 0;
  // Adaptive Integrated Gradients: whether the error was met, and why not when it was not.
  bool adaptive = false;
  bool error_met = false;
  std::string unmet_reason;
};

class PixelAttributionMethod {
 public:
  virtual ~PixelAttributionMethod() = default;
  virtual StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const = 0;
};

// The implementation serving `method`, or nullptr when it is not served yet.
const PixelAttributionMethod* FindAttributionMethod(AttributionMethod method);
// "SALIENCY, INPUT_X_GRADIENT, ..." for messages.
std::string ServedAttributionMethodNames();

// The gradients of the target at the single point `point` ([1,C,H,W]): its logit and
// gradient [1,C,H,W].
struct PointGradient {
  at::Tensor logit;
  at::Tensor gradient;
};
StatusOr<PointGradient> GradientAt(const AttributionContext& context, const at::Tensor& point);

// The rows (one file each).
const PixelAttributionMethod& SaliencyMethod();
const PixelAttributionMethod& InputXGradientMethod();
const PixelAttributionMethod& IntegratedGradientsMethod();
const PixelAttributionMethod& SmoothGradMethod();
const PixelAttributionMethod& GradientShapMethod();
const PixelAttributionMethod& XraiMethod();

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_
