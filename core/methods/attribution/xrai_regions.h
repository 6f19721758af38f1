// XRAI's region ranking (Kapishnikov et al., ICCV 2019, the "full" algorithm of Google PAIR's
// `saliency` library): from overlapping candidate regions and a per-pixel attribution,
// greedily take the region with the highest attribution per pixel it adds, until no region
// adds enough pixels; each pixel's value is the gain of the region that added it.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_XRAI_REGIONS_H_
#define XAI_CORE_METHODS_ATTRIBUTION_XRAI_REGIONS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace xai::core {

// The reference's minimum of new pixels for a region to be taken, at 224 x 224.
inline constexpr int kXraiMinPixelDiff = 50;

struct XraiRanking {
  at::Tensor map;              // [H,W] float32: the gain of the region that added the pixel
  std::vector<int64_t> order;  // the regions taken (indices into the masks), in order
  std::vector<float> gains;    // their gains: mean attribution over the pixels they added
  std::vector<int64_t> added;  // the pixels each added
  int64_t uncovered = 0;       // pixels no region added: they get their own mean
};

// `masks` [M,H,W] bool, `attribution` [H,W] (XRAI: the channel maximum of Integrated
// Gradients). Each step takes, among the regions that would add at least `min_pixel_diff`
// uncovered pixels, the one with the highest mean attribution over those pixels (ties: the
// lower index); regions adding fewer are dropped. Pixels no region covers get the mean
// attribution over them, so the map's sum equals the attribution's.
XraiRanking RankRegions(const at::Tensor& masks, const at::Tensor& attribution,
                        int64_t min_pixel_diff);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_XRAI_REGIONS_H_
