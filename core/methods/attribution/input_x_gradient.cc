// InputXGradient: x * d f / d x at the input (Captum's InputXGradient).
#include <ATen/ATen.h>

#include "core/methods/attribution/attribution_methods.h"

namespace xai::core {
namespace {

class InputXGradient : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    XAI_ASSIGN_OR_RETURN(const PointGradient at_input, GradientAt(context, context.input));
    AttributionOutput out;
    out.attribution = (context.input[0] * at_input.gradient[0]).to(at::kFloat);
    out.logit = at_input.logit[0].item<float>();
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& InputXGradientMethod() {
  static const InputXGradient method;
  return method;
}

}  // namespace xai::core
