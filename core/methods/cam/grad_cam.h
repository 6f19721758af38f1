// Gradient CAMs on a pooled, capture-instrumented instance: one forward, and per target
// one backward from the output to the captured layers and no further.
#ifndef XAI_CORE_METHODS_CAM_GRAD_CAM_H_
#define XAI_CORE_METHODS_CAM_GRAD_CAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/cam/cam_method.h"
#include "core/runtime/layer_info.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

struct GradCamSpec {
  std::vector<std::string> layers;  // module paths of CAM layers, validated by the caller
  // One per layer: how its output holds the feature map; the methods compute on its
  // [B, C, H, W] view (pytorch-grad-cam's reshape_transform). Empty: every layer NCHW.
  std::vector<LayerLayout> layouts;
  size_t cut = 0;                          // index of the layer whose output is computed first
  std::vector<int> targets;                // class indices; empty: the top-1 class (RunGradCam)
  CamMethod method = CamMethod::kGradCam;  // a served method of any family
  bool eigen_smooth = false;               // gradient-weighted: project instead of summing
  bool aug_smooth = false;                 // the mean of six flipped and scaled variants' maps
  int64_t height = 0;                      // the model input's size, for the upsampled map
  int64_t width = 0;
  int batch_size = 64;  // perturbation methods: perturbed forwards per batch
  // Perturbation methods: asked before every batch of perturbed forwards; a status other
  // than OK (the request's deadline passed, its caller cancelled) stops the work with it.
  // Unset: never stops.
  std::function<Status()> interrupted;
};

struct CamOutput {
  int target = 0;
  at::Tensor cam;  // [height, width], in [0,1], CPU float32
  at::Tensor raw;  // [h, w] of layers[0], after ReLU, before scaling, CPU float32
};

struct GradCamOutput {
  at::Tensor logits;                    // [num_classes], CPU float32
  std::vector<CamOutput> explanations;  // one per target, in order
};

// Runs `instance` on `input` ([1,C,H,W]) with `spec.layers` captured; a perturbation
// method then runs its perturbed forwards (core/methods/cam/perturbation_cam.h).
// INVALID_ARGUMENT when spec.method is not served;
// INVALID_ARGUMENT when a layer's output is not used by the rest of the network or is
// modified in place by it; INTERNAL when the forward or backward throws otherwise.
StatusOr<GradCamOutput> RunGradCam(ModelPool::Handle& instance, const at::Tensor& input,
                                   const GradCamSpec& spec);

// The same for a batch: `input` is [B,C,H,W] and `targets[b]` sample b's classes (empty:
// its top-1); spec.targets is not read. One forward, and per target position one backward
// of the batch's summed target scores: in eval mode samples are independent, so each
// sample's gradient, and its maps, are those it would get alone. Errors as RunGradCam, for
// the whole batch.
StatusOr<std::vector<GradCamOutput>> RunGradCamBatch(ModelPool::Handle& instance,
                                                     const at::Tensor& input,
                                                     const GradCamSpec& spec,
                                                     const std::vector<std::vector<int>>& targets);

// For the runners: the layout of spec.layers[l] (NCHW where spec.layouts is empty).
LayerLayout LayoutOf(const GradCamSpec& spec, size_t l);

// For the runners: every sample's targets, an empty list replaced by the top-1 class of
// its row of `logits` ([B,classes], CPU float32); INVALID_ARGUMENT for a class out of range.
StatusOr<std::vector<std::vector<int>>> ResolveTargets(const at::Tensor& logits,
                                                       std::vector<std::vector<int>> targets);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_GRAD_CAM_H_
