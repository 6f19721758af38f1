// The CAM methods as the reference scripts (tools/cam_reference.py,
// tools/transformer_reference.py) name their maps, for the tests that compare with them.
#ifndef XAI_TESTS_CORE_REFERENCE_METHODS_H_
#define XAI_TESTS_CORE_REFERENCE_METHODS_H_

#include "core/methods/cam/cam_method.h"

namespace xai::testing {

// Every served method: the gradient-weighted and activation-only methods, the
// gradient-weighted ones with eigen_smooth, and the perturbation methods (which the
// references compute for some cases only). "+aug_smooth" after a name: the same with
// aug_smooth.
struct ReferenceMethod {
  const char* name;
  core::CamMethod method;
  bool eigen_smooth;
  bool perturbation = false;
};
inline constexpr ReferenceMethod kReferenceMethods[] = {
    {"GRAD_CAM", core::CamMethod::kGradCam, false},
    {"GRAD_CAM_PLUS_PLUS", core::CamMethod::kGradCamPlusPlus, false},
    {"XGRAD_CAM", core::CamMethod::kXGradCam, false},
    {"HIRES_CAM", core::CamMethod::kHiResCam, false},
    {"LAYER_CAM", core::CamMethod::kLayerCam, false},
    {"EIGEN_CAM", core::CamMethod::kEigenCam, false},
    {"EIGEN_GRAD_CAM", core::CamMethod::kEigenGradCam, false},
    {"GRAD_CAM+eigen_smooth", core::CamMethod::kGradCam, true},
    {"GRAD_CAM_PLUS_PLUS+eigen_smooth", core::CamMethod::kGradCamPlusPlus, true},
    {"XGRAD_CAM+eigen_smooth", core::CamMethod::kXGradCam, true},
    {"HIRES_CAM+eigen_smooth", core::CamMethod::kHiResCam, true},
    {"LAYER_CAM+eigen_smooth", core::CamMethod::kLayerCam, true},
    {"SCORE_CAM", core::CamMethod::kScoreCam, false, true},
    {"SCORE_CAM+eigen_smooth", core::CamMethod::kScoreCam, true, true},
    {"ABLATION_CAM", core::CamMethod::kAblationCam, false, true},
};
inline constexpr int kReferenceMethodCount =
    sizeof(kReferenceMethods) / sizeof(kReferenceMethods[0]);

}  // namespace xai::testing

#endif  // XAI_TESTS_CORE_REFERENCE_METHODS_H_
