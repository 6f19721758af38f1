// The gradient-weighted CAM methods, one file each, as the table (cam_methods.cc) names
// them. Each returns its stateless implementation.
#ifndef XAI_CORE_METHODS_CAM_GRADIENT_GRADIENT_METHODS_H_
#define XAI_CORE_METHODS_CAM_GRADIENT_GRADIENT_METHODS_H_

#include "core/methods/cam/cam_methods.h"

namespace xai::core {

const GradientCamMethod& GradCamMethod();          // grad_cam.cc
const GradientCamMethod& GradCamPlusPlusMethod();  // grad_cam_plus_plus.cc
const GradientCamMethod& XGradCamMethod();         // xgrad_cam.cc
const GradientCamMethod& HiResCamMethod();         // hires_cam.cc
const GradientCamMethod& LayerCamMethod();         // layer_cam.cc

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_GRADIENT_GRADIENT_METHODS_H_
