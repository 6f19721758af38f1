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
// Legends: what a person sees in the overlay (red: high on the default jet colormap; the
// scale is the overlay's, OverlayOptions.scale), one place for the page, the CLI and clients.
const CamMethodRow kCamMethods[] = {
    {CamMethod::kGradCam, "GRAD_CAM", "Grad-CAM", CamFamily::kGradientWeighted, &GradCamMethod(),
     "Each channel of the layer weighted by the mean gradient of the target's score over its "
     "positions, summed, negatives cut: red where the layer's features raise the score most."},
    {CamMethod::kGradCamPlusPlus, "GRAD_CAM_PLUS_PLUS", "Grad-CAM++", CamFamily::kGradientWeighted,
     &GradCamPlusPlusMethod(),
     "As Grad-CAM, with each channel weighted by its positive gradients only, each position's "
     "share set by higher-order terms: several instances of a class show side by side."},
    {CamMethod::kXGradCam, "XGRAD_CAM", "XGrad-CAM", CamFamily::kGradientWeighted,
     &XGradCamMethod(),
     "As Grad-CAM, with each channel's gradients weighted by its normalised activations: red "
     "where the layer's features raise the score most."},
    {CamMethod::kHiResCam, "HIRES_CAM", "HiResCAM", CamFamily::kGradientWeighted, &HiResCamMethod(),
     "The gradient times the activation at each position (not averaged per channel), summed "
     "over channels, negatives cut: red where the model's own computation raised the score."},
    {CamMethod::kLayerCam, "LAYER_CAM", "LayerCAM", CamFamily::kGradientWeighted, &LayerCamMethod(),
     "Each position's activation weighted by its own positive gradient, summed over channels: "
     "finer, more local evidence than Grad-CAM, also at early layers."},
    {CamMethod::kEigenCam, "EIGEN_CAM", "EigenCAM", CamFamily::kActivationOnly, &EigenCamMethod(),
     "The layer's dominant activation pattern (the first principal component of its "
     "activations): where the features are strongest, the same map for every target."},
    {CamMethod::kEigenGradCam, "EIGEN_GRAD_CAM", "EigenGradCAM", CamFamily::kActivationOnly,
     &EigenGradCamMethod(),
     "The first principal component of the activations times their gradients: the dominant "
     "pattern of the target's evidence (unlike EigenCAM, it changes with the target)."},
    {CamMethod::kScoreCam, "SCORE_CAM", "Score-CAM", CamFamily::kPerturbation, &ScoreCamMethod(),
     "Each channel, upsampled, masks the image; its weight is the target's score on the masked "
     "image (a forward per channel): red where the pixels that alone keep the class are."},
    {CamMethod::kAblationCam, "ABLATION_CAM", "AblationCAM", CamFamily::kPerturbation,
     &AblationCamMethod(),
     "Each channel weighted by how much the target's score drops when the channel is zeroed (a "
     "forward per channel): red where the evidence the score needs is."},
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
                    std::string(CamFamilyName(row.family)), std::string(row.legend)});
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
