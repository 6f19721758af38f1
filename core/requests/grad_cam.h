// GradCAM: class activation maps of the CAM method table's methods at any layers, raw and
// normalised, with PNG overlays; batched with requests of the same method and layers.
#ifndef XAI_CORE_REQUESTS_GRAD_CAM_H_
#define XAI_CORE_REQUESTS_GRAD_CAM_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/cam/cam_method.h"
#include "core/methods/faithfulness/faithfulness_types.h"
#include "core/requests/request_types.h"
#include "core/runtime/feature_layout.h"

namespace xai::core {

class ModelVersion;
struct GradCamSpec;
struct ServableModel;

struct GradCamRequest {
  ModelRef model;
  ImageRef image;
  std::vector<int> target_classes;             // empty: the top-1 class
  std::vector<std::string> layers;             // empty: the model's default CAM layer
  CamMethod method = CamMethod::kUnspecified;  // any number off the wire; 0: GRAD_CAM
  // The first-component projection of the weighted activations instead of their sum
  // (pytorch-grad-cam's eigen_smooth; EIGEN_CAM and EIGEN_GRAD_CAM project already).
  bool eigen_smooth = false;
  // The mean of the maps of six variants of the input (horizontal flip x brightness 0.9,
  // 1.0, 1.1), each flipped back: pytorch-grad-cam's aug_smooth, six times the work.
  bool aug_smooth = false;
  // SCORE_CAM, ABLATION_CAM and metrics: perturbed inputs per forward; 0: 64 (at most the
  // server's max_perturbation_batch).
  int batch_size = 0;
  // Faithfulness metrics beside each map (docs/METHODS.md), forwarded in batches of
  // batch_size.
  MetricsRequest metrics;
  // Layouts of some of `layers` for this call, over the model's resolved ones.
  struct LayerLayoutOverride {
    std::string layer;
    LayoutDeclaration layout;
  };
  std::vector<LayerLayoutOverride> layer_layouts;
  OverlaySpec overlay;
  RequestContext context;
};

struct CamExplanation {
  int target_class = 0;
  FloatTensor cam;          // [H,W] at the model's input size, in [0,1]
  FloatTensor raw;          // [h,w] of the first layer, after ReLU, before normalisation
  std::string overlay_png;  // when overlay.enabled
  std::optional<FaithfulnessResult> metrics;  // when metrics.enabled
};

struct GradCamResult {
  ModelRef model;
  std::vector<std::string> layers;           // the layers explained (the default resolved)
  std::vector<LabeledScore> classes;         // top classes of the same forward
  std::vector<CamExplanation> explanations;  // one per target, in request order
};

// Checks a GradCAM request against `model` and fills `spec` (layers resolved to the
// default, their layouts, the earliest layer to cut at, the input size). INVALID_ARGUMENT
// naming the field (layers: with the closest valid CAM layers; a layer whose layout is
// ambiguous: with the field that declares it), FAILED_PRECONDITION when layers is empty and
// the model has no usable default layer (with why), UNIMPLEMENTED for methods the CAM
// method table does not serve.
Status ValidateGradCam(const GradCamRequest& request, const ServableModel& model,
                       const RequestEnvironment& environment, GradCamSpec* spec);

// Validates `request` against the version `serving` gives and queues it there. Answers
// `done` exactly once.
void QueueGradCam(const RequestEnvironment& environment, const ServingFn& serving,
                  GradCamRequest request, RequestCallback<GradCamResult> done);

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_GRAD_CAM_H_
