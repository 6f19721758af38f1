// Gradient CAMs on a pooled, capture-instrumented instance: one forward, and per target
// one backward from the output to the captured layers and no further.
#ifndef XAI_CORE_GRAD_CAM_H_
#define XAI_CORE_GRAD_CAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/cam.h"
#include "core/model_pool.h"
#include "core/status.h"

namespace xai::core {

struct GradCamSpec {
  std::vector<std::string> layers;  // module paths with 4-D outputs, validated by the caller
  size_t cut = 0;                   // index of the layer whose output is computed first
  std::vector<int> targets;         // class indices; empty: the top-1 class
  CamMethod method = CamMethod::kGradCam;
  int64_t height = 0;               // the model input's size, for the upsampled map
  int64_t width = 0;
};

struct CamOutput {
  int target = 0;
  at::Tensor cam;  // [height, width], in [0,1], CPU float32
  at::Tensor raw;  // [h, w] of layers[0], after ReLU, before scaling, CPU float32
};

struct GradCamOutput {
  at::Tensor logits;  // [num_classes], CPU float32
  std::vector<CamOutput> explanations;  // one per target, in order
};

// Runs `instance` on `input` ([1,C,H,W]) with `spec.layers` captured.
// INVALID_ARGUMENT when a layer's output is not used by the rest of the network or is
// modified in place by it; INTERNAL when the forward or backward throws otherwise.
StatusOr<GradCamOutput> RunGradCam(ModelPool::Handle& instance, const at::Tensor& input,
                                   const GradCamSpec& spec);

}  // namespace xai::core

#endif  // XAI_CORE_GRAD_CAM_H_
