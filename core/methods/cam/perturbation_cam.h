// The perturbation CAM methods' runner (ScoreCAM, AblationCAM): one forward with the layers
// captured, then, per sample and layer, every distinct perturbation the method builds,
// forwarded in batches of spec.batch_size, once for all of the sample's targets.
#ifndef XAI_CORE_METHODS_CAM_PERTURBATION_CAM_H_
#define XAI_CORE_METHODS_CAM_PERTURBATION_CAM_H_

#include <vector>

#include "core/base/status.h"
#include "core/methods/cam/cam_methods.h"
#include "core/methods/cam/grad_cam.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

// `input` is [B,C,H,W], `targets[b]` sample b's classes (empty: its top-1). Before every
// batch of perturbed forwards spec.interrupted is asked, and a status it returns ends the
// run. Errors otherwise as RunGradCamBatch's.
StatusOr<std::vector<GradCamOutput>> RunPerturbationCam(
    ModelPool::Handle& instance, const at::Tensor& input, const GradCamSpec& spec,
    const PerturbationCamMethod& method, const std::vector<std::vector<int>>& targets);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_PERTURBATION_CAM_H_
