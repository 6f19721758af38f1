// XRAI (Kapishnikov et al., ICCV 2019): Integrated Gradients from the request's baselines
// (BLACK and WHITE unless set, as the reference), its channel maximum per pixel (the
// reference's aggregation), and the regions of the image's over-segmentation (given by the
// request, core/image/segmentation.h) ranked by xrai_regions.h. The attribution is the
// Integrated Gradients one, with its error; the map ranks the regions.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/methods/attribution/attribution_methods.h"
#include "core/methods/attribution/xrai_regions.h"

namespace xai::core {
namespace {

class Xrai : public PixelAttributionMethod {
 public:
  StatusOr<AttributionOutput> Attribute(const AttributionContext& context) const override {
    if (!context.segments.defined() || context.segments.size(0) == 0) {
      return InternalError("XRAI was given no segments");
    }
    XAI_ASSIGN_OR_RETURN(AttributionOutput out, IntegratedGradientsMethod().Attribute(context));
    const at::Tensor aggregated = std::get<0>(out.attribution.max(0));
    // The reference's 50 pixels at 224 x 224, scaled to the input's area.
    const double area = static_cast<double>(aggregated.numel()) / (224.0 * 224.0);
    const auto min_pixels = std::max<int64_t>(1, std::llround(kXraiMinPixelDiff * area));
    out.map = RankRegions(context.segments, aggregated, min_pixels).map;
    return out;
  }
};

}  // namespace

const PixelAttributionMethod& XraiMethod() {
  static const Xrai method;
  return method;
}

}  // namespace xai::core
