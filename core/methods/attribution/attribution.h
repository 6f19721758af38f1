// Pixel attributions on a pooled instance: the method table's method (attribution_methods.h)
// with the gradients of the target's logit with respect to the input, evaluated in batches
// on the instance's device, the request's interruption asked before each batch.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_H_
#define XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_H_

#include <functional>
#include <vector>

#include "core/base/status.h"
#include "core/methods/attribution/attribution_methods.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

struct AttributionSpec {
  AttributionMethod method = AttributionMethod::kIntegratedGradients;  // a served method
  IntegrationRule rule = IntegrationRule::kGaussLegendre;
  int steps = 50;
  int batch_size = 32;                 // points per forward and backward
  std::vector<int> targets;            // class indices; empty: the top-1 class
  double max_approximation_error = 0;  // > 0: adaptive Integrated Gradients, steps the cap
  int samples = 5;                     // SMOOTH_GRAD, GRADIENT_SHAP
  double noise_sigma = 0;              // absolute, in the model's input space
  uint64_t seed = 0;
  AttributionMethod smoothed = AttributionMethod::kSaliency;  // what SMOOTH_GRAD averages
  at::Tensor segments;  // XRAI: the candidate regions, [M,H,W] bool
  // Asked before every batch; a status other than OK stops the work with it. Unset: never.
  std::function<Status()> interrupted;
  // Seconds until the deadline; unset: no deadline.
  std::function<double()> seconds_left;
};

struct TargetAttribution {
  int target = 0;
  AttributionOutput output;  // attribution on the CPU
};

struct AttributionRun {
  at::Tensor logits;                            // [num_classes] of the input, CPU float32
  std::vector<TargetAttribution> attributions;  // one per target, in order
};

// Attributes `input` ([1,C,H,W], CPU) for every target against `baselines` (each [1,C,H,W],
// CPU; at least one). INVALID_ARGUMENT when spec.method is not served; INTERNAL when the
// model fails; spec.interrupted's status when it stops the work.
StatusOr<AttributionRun> RunAttribution(ModelPool::Handle& instance, const at::Tensor& input,
                                        const std::vector<at::Tensor>& baselines,
                                        const AttributionSpec& spec);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_H_
