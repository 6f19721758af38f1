// The pixel attribution method table: each method turns the gradients of the target's logit
// with respect to the input, at points it chooses, into an attribution of the input. The
// runner (attribution.h) evaluates the gradients in batches on the instance.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_
#define XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/attribution/attribution_method.h"

namespace xai::core {

// The target's logit and its gradient with respect to the input at each of a batch of
// points.
struct PointGradients {
  at::Tensor logits;     // [N]
  at::Tensor gradients;  // [N,C,H,W]
};

struct AttributionContext {
  at::Tensor input;                   // [1,C,H,W], on the instance's device
  std::vector<at::Tensor> baselines;  // each [1,C,H,W], on the device; at least one
  int steps = 50;
  IntegrationRule rule = IntegrationRule::kGaussLegendre;
  // Gradients at `points` ([N,C,H,W]): the runner batches them.
  std::function<StatusOr<PointGradients>(const at::Tensor& points)> gradients;
  // The target's logits at `points` ([N]), forwards without autograd.
  std::function<StatusOr<at::Tensor>(const at::Tensor& points)> logits;
};

struct AttributionOutput {
  at::Tensor attribution;  // [C,H,W], float32
  // Methods that integrate (Integrated Gradients): the logit on the input and on the
  // baseline (the mean over baselines), and sum(attribution) - (logit - baseline_logit).
  bool integrates = false;
  float logit = 0;
  float baseline_logit = 0;
  float delta = 0;
  int steps = 0;
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

// The rows (one file each).
const PixelAttributionMethod& SaliencyMethod();
const PixelAttributionMethod& InputXGradientMethod();
const PixelAttributionMethod& IntegratedGradientsMethod();

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHODS_H_
