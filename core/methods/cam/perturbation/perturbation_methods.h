// The perturbation CAM methods, as the table (cam_methods.cc) names them. Each returns its
// stateless implementation.
#ifndef XAI_CORE_METHODS_CAM_PERTURBATION_PERTURBATION_METHODS_H_
#define XAI_CORE_METHODS_CAM_PERTURBATION_PERTURBATION_METHODS_H_

#include "core/methods/cam/cam_methods.h"

namespace xai::core {

const PerturbationCamMethod& ScoreCamMethod();     // score_cam.cc
const PerturbationCamMethod& AblationCamMethod();  // ablation_cam.cc

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_PERTURBATION_PERTURBATION_METHODS_H_
