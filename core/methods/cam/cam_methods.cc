#include "core/methods/cam/cam_methods.h"

#include <iterator>

#include "core/methods/cam/activation/activation_methods.h"
#include "core/methods/cam/gradient/gradient_methods.h"
#include "core/methods/cam/perturbation/perturbation_methods.h"
#include "core/methods/method_catalog.h"

namespace xai::core {
namespace {

// The table: every xai.v1.CamMethod, in number order. A new method: its file, and its
// implementation in its row.
const CamMethodRow kCamMethods[] = {
    {CamMethod::kGradCam, "GRAD_CAM", "Grad-CAM", CamFamily::kGradientWeighted, &GradCamMethod()},
    {CamMethod::kGradCamPlusPlus, "GRAD_CAM_PLUS_PLUS", "Grad-CAM++", CamFamily::kGradientWeighted,
     &GradCamPlusPlusMethod()},
    {CamMethod::kXGradCam, "XGRAD_CAM", "XGrad-CAM", CamFamily::kGradientWeighted,
     &XGradCamMethod()},
    {CamMethod::kHiResCam, "HIRES_CAM", "HiResCAM", CamFamily::kGradientWeighted,
     &HiResCamMethod()},
    {CamMethod::kLayerCam, "LAYER_CAM", "LayerCAM", CamFamily::kGradientWeighted,
     &LayerCamMethod()},
    {CamMethod::kEigenCam, "EIGEN_CAM", "EigenCAM", CamFamily::kActivationOnly, &EigenCamMethod()},
    {CamMethod::kEigenGradCam, "EIGEN_GRAD_CAM", "EigenGradCAM", CamFamily::kActivationOnly,
     &EigenGradCamMethod()},
    {CamMethod::kScoreCam, "SCORE_CAM", "Score-CAM", CamFamily::kPerturbation, &ScoreCamMethod()},
    {CamMethod::kAblationCam, "ABLATION_CAM", "AblationCAM", CamFamily::kPerturbation,
     &AblationCamMethod()},
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

void AppendServedCamMethods(std::vector<MethodInfo>* out) {
  for (const CamMethodRow& row : kCamMethods) {
    if (row.impl == nullptr) continue;
    out->push_back({std::string(row.name), "GradCAM", std::string(row.title),
                    std::string(CamFamilyName(row.family))});
  }
}

std::string_view CamFamilyName(CamFamily family) {
  switch (family) {
    case CamFamily::kGradientWeighted:
      return "gradient-weighted";
    case CamFamily::kActivationOnly:
      return "activation-only";
    case CamFamily::kPerturbation:
      return "perturbation";
  }
  return "unknown";
}

}  // namespace xai::core
