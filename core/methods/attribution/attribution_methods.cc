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
};

// The table: every method of the wire, and the implementation serving it.
const std::array<Row, 6>& Table() {
  static const std::array<Row, 6> table = {{
      {AttributionMethod::kSaliency, "SALIENCY", "Saliency", "gradient",
       [] { return &SaliencyMethod(); }},
      {AttributionMethod::kInputXGradient, "INPUT_X_GRADIENT", "Input × Gradient", "gradient",
       [] { return &InputXGradientMethod(); }},
      {AttributionMethod::kIntegratedGradients, "INTEGRATED_GRADIENTS", "Integrated Gradients",
       "path integral", [] { return &IntegratedGradientsMethod(); }},
      {AttributionMethod::kSmoothGrad, "SMOOTH_GRAD", "SmoothGrad", "sampling",
       [] { return &SmoothGradMethod(); }},
      {AttributionMethod::kGradientShap, "GRADIENT_SHAP", "GradientSHAP", "sampling",
       [] { return &GradientShapMethod(); }},
      {AttributionMethod::kXrai, "XRAI", "XRAI", "regions", [] { return &XraiMethod(); }},
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
    out->push_back(
        {std::string(row.name), "Attribute", std::string(row.title), std::string(row.family)});
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
