#include "core/methods/attribution/attribution_methods.h"

#include <ATen/ATen.h>

#include <array>
#include <utility>

#include "core/methods/method_catalog.h"

namespace xai::core {
namespace {

struct Row {
  AttributionMethod method;
  std::string_view name;
  std::string_view title;                             // as the literature writes it
  std::string_view family;                            // how it computes (docs/METHODS.md)
  const PixelAttributionMethod* (*implementation)();  // nullptr: not served yet
  std::string_view legend;  // what its overlay shows, for a person (MethodInfo.legend)
};

// The table: every method of the wire, and the implementation serving it.
const std::array<Row, 6>& Table() {
  static const std::array<Row, 6> table = {{
      {AttributionMethod::kSaliency, "SALIENCY", "Saliency", "gradient",
       [] { return &SaliencyMethod(); },
       "The size of the target logit's gradient at each pixel, summed over colour channels: "
       "where a small change of the pixel moves the score most. Always positive: no sign."},
      {AttributionMethod::kInputXGradient, "INPUT_X_GRADIENT", "Input × Gradient", "gradient",
       [] { return &InputXGradientMethod(); },
       "Each pixel times the gradient of the target's logit there, summed over colour channels: "
       "positive raised the score, negative lowered it (the overlay's polarity)."},
      {AttributionMethod::kIntegratedGradients, "INTEGRATED_GRADIENTS", "Integrated Gradients",
       "path integral", [] { return &IntegratedGradientsMethod(); },
       "Gradients averaged along the path from the baseline to the image, times their "
       "difference: each pixel's share of f(image) - f(baseline), f the target's logit; the "
       "shares add up to it within the approximation error. Positive raised the score, "
       "negative lowered it."},
      {AttributionMethod::kSmoothGrad, "SMOOTH_GRAD", "SmoothGrad", "sampling",
       [] { return &SmoothGradMethod(); },
       "A gradient method (Saliency by default) averaged over noisy copies of the image: the "
       "same question as Saliency, with less speckle."},
      {AttributionMethod::kGradientShap, "GRADIENT_SHAP", "GradientSHAP", "sampling",
       [] { return &GradientShapMethod(); },
       "Gradients at random points between random baselines and the image, times the image "
       "minus the baseline, averaged: Integrated Gradients in expectation over the baselines. "
       "Positive raised the score, negative lowered it."},
      {AttributionMethod::kXrai, "XRAI", "XRAI", "regions", [] { return &XraiMethod(); },
       "Regions of the image ranked by the Integrated Gradients they hold per pixel; colour: "
       "each region's gain; outlines: the regions holding the top 10% (white), 20% (yellow) and "
       "30% (cyan) of pixels."},
  }};
  return table;
}

}  // namespace

std::optional<AttributionMethod> AttributionMethodFromNumber(int number) {
  if (number == 0) return AttributionMethod::kIntegratedGradients;
  for (const Row& row : Table()) {
    if (static_cast<int>(row.method) == number) return row.method;
  }
  return std::nullopt;
}

std::string_view AttributionMethodName(AttributionMethod method) {
  if (method == AttributionMethod::kUnspecified) method = AttributionMethod::kIntegratedGradients;
  for (const Row& row : Table()) {
    if (row.method == method) return row.name;
  }
  return "UNKNOWN";
}

const PixelAttributionMethod* FindAttributionMethod(AttributionMethod method) {
  for (const Row& row : Table()) {
    if (row.method == method) return row.implementation ? row.implementation() : nullptr;
  }
  return nullptr;
}

StatusOr<PointGradient> GradientAt(const AttributionContext& context, const at::Tensor& point) {
  PointGradient out;
  XAI_RETURN_IF_ERROR(context.gradients(
      1, [&point](int64_t, int64_t) { return point; },
      [&out](int64_t, const at::Tensor& logits, const at::Tensor& gradients) {
        out.logit = logits;
        out.gradient = gradients;
      }));
  return out;
}

void AppendServedAttributionMethods(std::vector<MethodInfo>* out) {
  for (const Row& row : Table()) {
    if (row.implementation == nullptr) continue;
    out->push_back({std::string(row.name), "Attribute", std::string(row.title),
                    std::string(row.family), std::string(row.legend)});
  }
}

std::string ServedAttributionMethodNames() {
  std::string out;
  for (const Row& row : Table()) {
    if (row.implementation == nullptr) continue;
    out += (out.empty() ? "" : ", ") + std::string(row.name);
  }
  return out;
}

std::optional<IntegrationRule> IntegrationRuleFromNumber(int number) {
  if (number < 0 || number > static_cast<int>(IntegrationRule::kRiemannTrapezoid)) {
    return std::nullopt;
  }
  return static_cast<IntegrationRule>(number);
}

std::string_view IntegrationRuleName(IntegrationRule rule) {
  static constexpr std::array<std::string_view, 5> kNames = {
      "GAUSS_LEGENDRE", "RIEMANN_LEFT", "RIEMANN_RIGHT", "RIEMANN_MIDDLE", "RIEMANN_TRAPEZOID"};
  return kNames[static_cast<size_t>(rule)];
}

std::optional<BaselineKind> BaselineKindFromNumber(int number) {
  if (number < 0 || number > static_cast<int>(BaselineKind::kUniformNoise)) return std::nullopt;
  return number == 0 ? BaselineKind::kZero : static_cast<BaselineKind>(number);
}

std::string_view BaselineKindName(BaselineKind kind) {
  static constexpr std::array<std::string_view, 6> kNames = {"ZERO",  "ZERO", "BLACK",
                                                             "WHITE", "BLUR", "UNIFORM_NOISE"};
  return kNames[static_cast<size_t>(kind)];
}

}  // namespace xai::core
