// The pixel attribution methods and Integrated Gradients' quadrature rules, by the wire's
// numbers, without LibTorch: requests carry these.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHOD_H_
#define XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHOD_H_

#include <optional>
#include <string>
#include <string_view>

namespace xai::core {

// xai.v1.AttributionMethod's numbers.
enum class AttributionMethod {
  kUnspecified = 0,  // INTEGRATED_GRADIENTS
  kSaliency = 1,
  kInputXGradient = 2,
  kIntegratedGradients = 3,
  kSmoothGrad = 4,
  kGradientShap = 5,
  kXrai = 6,
};

// xai.v1.IntegrationRule's numbers (Captum's `method` names in comments).
enum class IntegrationRule {
  kGaussLegendre = 0,     // gausslegendre, the default
  kRiemannLeft = 1,       // riemann_left
  kRiemannRight = 2,      // riemann_right
  kRiemannMiddle = 3,     // riemann_middle
  kRiemannTrapezoid = 4,  // riemann_trapezoid
};

// xai.v1.Baseline's numbers.
enum class BaselineKind {
  kUnspecified = 0,  // ZERO
  kZero = 1,
  kBlack = 2,
  kWhite = 3,
  kBlur = 4,
  kUniformNoise = 5,
};

// Adaptive Integrated Gradients' first level of steps.
inline constexpr int kAdaptiveFirstSteps = 8;
// Below this |f(x) - f(baseline)| the approximation error means little (Vertex AI's advice).
inline constexpr float kMeaningfulLogitGap = 0.05f;

std::optional<AttributionMethod> AttributionMethodFromNumber(int number);
std::string_view AttributionMethodName(AttributionMethod method);  // "INTEGRATED_GRADIENTS"
std::optional<IntegrationRule> IntegrationRuleFromNumber(int number);
std::string_view IntegrationRuleName(IntegrationRule rule);
std::optional<BaselineKind> BaselineKindFromNumber(int number);
std::string_view BaselineKindName(BaselineKind kind);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_ATTRIBUTION_METHOD_H_
