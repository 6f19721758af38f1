// The CAM methods by name and number, and which are served: the LibTorch-free half of the
// method table (core/methods/cam/cam_methods.cc), for request validation and adapters.
#ifndef XAI_CORE_METHODS_CAM_CAM_METHOD_H_
#define XAI_CORE_METHODS_CAM_CAM_METHOD_H_

#include <optional>
#include <string>
#include <string_view>

namespace xai::core {

// Numbers equal xai.v1.CamMethod's. A request may carry any number (it comes off the
// wire as an int): CamMethodFromNumber says whether it names a method.
enum class CamMethod : int {
  kUnspecified = 0,  // the request's default: GRAD_CAM
  kGradCam = 1,
  kGradCamPlusPlus = 2,
  kXGradCam = 3,
  kHiResCam = 4,
  kLayerCam = 5,
  kEigenCam = 6,
  kEigenGradCam = 7,
  kScoreCam = 8,
  kAblationCam = 9,
};

// How a method computes its maps; each family runs its own way (see cam_methods.h).
enum class CamFamily {
  kGradientWeighted,  // one forward, one backward per target to the layer
  kActivationOnly,    // from the activations alone (their principal component)
  kPerturbation,      // many forwards of perturbed inputs or activations
};

// The method `number` names, or nullopt (0 and numbers outside the table).
std::optional<CamMethod> CamMethodFromNumber(int number);

// "GRAD_CAM", ...; "UNKNOWN" for a number the table does not hold.
std::string_view CamMethodName(CamMethod method);

// "gradient-weighted", "activation-only", "perturbation" (docs/METHODS.md's words).
std::string_view CamFamilyName(CamFamily family);

// Whether the method is served, i.e. its row in the table has an implementation.
bool IsServed(CamMethod method);

// The served methods' names in table order, comma-separated, for error messages.
std::string ServedCamMethodNames();

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_CAM_METHOD_H_
