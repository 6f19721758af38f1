#include "core/methods/cam/cam_methods.h"

#include <iterator>

#include "core/methods/cam/activation/activation_methods.h"
#include "core/methods/cam/gradient/gradient_methods.h"
#include "core/methods/cam/perturbation/perturbation_methods.h"

namespace xai::core {
namespace {

// The table: every xai.v1.CamMethod, in number order. A new method: its file, and its
// implementation in its row.
const CamMethodRow kCamMethods[] = {
    {CamMethod::kGradCam, "GRAD_CAM", CamFamily::kGradientWeighted, &GradCamMethod()},
    {CamMethod::kGradCamPlusPlus, "GRAD_CAM_PLUS_PLUS", CamFamily::kGradientWeighted,
     &GradCamPlusPlusMethod()},
    {CamMethod::kXGradCam, "XGRAD_CAM", CamFamily::kGradientWeighted, &XGradCamMethod()},
    {CamMethod::kHiResCam, "HIRES_CAM", CamFamily::kGradientWeighted, &HiResCamMethod()},
    {CamMethod::kLayerCam, "LAYER_CAM", CamFamily::kGradientWeighted, &LayerCamMethod()},
    {CamMethod::kEigenCam, "EIGEN_CAM", CamFamily::kActivationOnly, &EigenCamMethod()},
    {CamMethod::kEigenGradCam, "EIGEN_GRAD_CAM", CamFamily::kActivationOnly, &EigenGradCamMethod()},
    {CamMethod::kScoreCam, "SCORE_CAM", CamFamily::kPerturbation, &ScoreCamMethod()},
    {CamMethod::kAblationCam, "ABLATION_CAM", CamFamily::kPerturbation, &AblationCamMethod()},
};

}  // namespace

const CamMethodRow* FindCamMethod(CamMethod method) {
  for (const CamMethodRow& row : kCamMethods) {
    if (row.method == method) return &row;
  }
  return nullptr;
}

const MapCamMethod* FindMapCamMethod(CamMethod method) {
  const CamMethodRow* row = FindCamMethod(method);
  if (row == nullptr || row->impl == nullptr || row->family == CamFamily::kPerturbation) {
    return nullptr;
  }
  return static_cast<const MapCamMethod*>(row->impl);
}

const PerturbationCamMethod* FindPerturbationCamMethod(CamMethod method) {
  const CamMethodRow* row = FindCamMethod(method);
  if (row == nullptr || row->impl == nullptr || row->family != CamFamily::kPerturbation) {
    return nullptr;
  }
  return static_cast<const PerturbationCamMethod*>(row->impl);
}

std::optional<CamMethod> CamMethodFromNumber(int number) {
  for (const CamMethodRow& row : kCamMethods) {
    if (static_cast<int>(row.method) == number) return row.method;
  }
  return std::nullopt;
}

std::string_view CamMethodName(CamMethod method) {
  const CamMethodRow* row = FindCamMethod(method);
  return row == nullptr ? "UNKNOWN" : row->name;
}

bool IsServed(CamMethod method) {
  const CamMethodRow* row = FindCamMethod(method);
  return row != nullptr && row->impl != nullptr;
}

std::string ServedCamMethodNames() {
  std::string out;
  for (const CamMethodRow& row : kCamMethods) {
    if (row.impl == nullptr) continue;
    if (!out.empty()) out += ", ";
    out += row.name;
  }
  return out;
}

}  // namespace xai::core
