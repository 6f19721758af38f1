// Attribute: pixel attributions of the attribution method table's methods, one per target,
// with Integrated Gradients' approximation error. A request runs alone: its own batches of
// points fill the instance, and it stops at its own deadline between them.
#ifndef XAI_CORE_REQUESTS_ATTRIBUTE_H_
#define XAI_CORE_REQUESTS_ATTRIBUTE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/attribution/attribution_method.h"
#include "core/methods/faithfulness/faithfulness_types.h"
#include "core/requests/request_types.h"

namespace xai::core {

inline constexpr int kDefaultAttributionSteps = 50;
inline constexpr int kDefaultAdaptiveStepCap = 256;  // adaptive mode's steps when unset
inline constexpr int kDefaultSamples = 5;            // SMOOTH_GRAD, GRADIENT_SHAP (Captum's)
inline constexpr int kMaxSamples = 1024;
inline constexpr float kDefaultSmoothGradNoise =
    0.15f;  // of the input's range (the paper's 10-20%)
inline constexpr float kMaxNoiseFraction = 2.0f;
// Gradient points per target (SMOOTH_GRAD of INTEGRATED_GRADIENTS: samples x steps x baselines).
inline constexpr int64_t kMaxAttributionPoints = 65536;
inline constexpr int kDefaultAttributionBatch = 32;
inline constexpr int kMaxBaselines = 8;

struct AttributeRequest {
  ModelRef model;
  ImageRef image;
  std::vector<int> target_classes;                             // empty: the top-1 class
  AttributionMethod method = AttributionMethod::kUnspecified;  // any number off the wire
  int steps = 0;                                               // 0: 50
  std::vector<int> baselines;  // BaselineKind numbers off the wire; empty: ZERO
  int samples = 0;
  float noise_stdev = 0;
  uint64_t seed = 0;
  OverlaySpec overlay;
  MetricsRequest metrics;
  IntegrationRule rule = IntegrationRule::kGaussLegendre;              // any number off the wire
  int batch_size = 0;                                                  // 0: 32
  float max_approximation_error = 0;                                   // > 0: adaptive IG
  float noise_stdev_absolute = 0;                                      // instead of noise_stdev
  AttributionMethod smooth_grad_of = AttributionMethod::kUnspecified;  // SALIENCY
  RequestContext context;
};

struct PixelAttribution {
  int target_class = 0;
  FloatTensor attribution;  // [C,H,W] in the model's input space
  FloatTensor map;          // [H,W]: summed over channels, signed; XRAI: region gains
  std::string overlay_png;  // with overlay.enabled
  std::optional<FaithfulnessResult> metrics;  // with metrics.enabled
  // Methods that integrate: |delta| / |logit - baseline_logit|, the logits, delta and the
  // steps used; 0 otherwise.
  float approximation_error = 0;
  float logit = 0;
  float baseline_logit = 0;
  float convergence_delta = 0;
  int steps = 0;
  bool approximation_error_met = false;  // adaptive mode
  std::string warning;                   // e.g. when |logit - baseline_logit| < kMeaningfulLogitGap
};

struct AttributeResult {
  ModelRef model;
  std::vector<LabeledScore> classes;           // top classes of the input
  std::vector<PixelAttribution> attributions;  // one per target, in request order
};

// Validates `request` against the version `serving` gives and queues it there. Answers
// `done` exactly once. INVALID_ARGUMENT naming the field; UNIMPLEMENTED for the methods the
// table does not serve yet.
void QueueAttribute(const RequestEnvironment& environment, const ServingFn& serving,
                    AttributeRequest request, RequestCallback<AttributeResult> done);

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_ATTRIBUTE_H_
