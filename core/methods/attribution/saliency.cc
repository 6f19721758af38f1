// Saliency: |d f / d x| at the input (Captum's Saliency with abs=True, its default).
#include <ATen/ATen.h>

#include "core/methods/attribution/attribution_methods.h"

namespace xai::core {
namespace {

class Saliency : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    XAI_ASSIGN_OR_RETURN(const PointGradient at_input, GradientAt(context, context.input));
    AttributionOutput out;
    out.attribution = at_input.gradient[0].abs().to(at::kFloat);
    out.logit = at_input.logit[0].item<float>();
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& SaliencyMethod() {
  static const Saliency method;
  return method;
}

}  // namespace xai::core
