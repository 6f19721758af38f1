// The activation-only CAM methods, as the table (cam_methods.cc) names them. Each returns
// its stateless implementation.
#ifndef XAI_CORE_METHODS_CAM_ACTIVATION_ACTIVATION_METHODS_H_
#define XAI_CORE_METHODS_CAM_ACTIVATION_ACTIVATION_METHODS_H_

#include "core/methods/cam/cam_methods.h"

namespace xai::core {

const ActivationCamMethod& EigenCamMethod();      // eigen_cam.cc
const ActivationCamMethod& EigenGradCamMethod();  // eigen_cam.cc

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_ACTIVATION_ACTIVATION_METHODS_H_
