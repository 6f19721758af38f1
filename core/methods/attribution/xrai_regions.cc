#include "core/methods/attribution/xrai_regions.h"

#include <ATen/ATen.h>

#include <limits>

namespace xai::core {

XraiRanking RankRegions(const at::Tensor& masks, const at::Tensor& attribution,
                        int64_t min_pixel_diff) {
  const int64_t count = masks.size(0);
  const int64_t pixels = attribution.numel();
  const at::Tensor attr = attribution.to(at::kCPU, at::kDouble).contiguous().view({-1});
  const double* a = attr.data_ptr<double>();
  // (region, pixel) pairs in region order, and the same pairs in pixel order: each region's
  // pixels, and each pixel's regions.
  const at::Tensor pairs = masks.to(at::kCPU).view({count, -1}).nonzero().contiguous();  // [K,2]
  const int64_t k = pairs.size(0);
  const int64_t* pr = pairs.data_ptr<int64_t>();
  std::vector<int64_t> region_start(count + 1, 0), pixel_start(pixels + 1, 0);
  for (int64_t i = 0; i < k; ++i) {
    ++region_start[pr[2 * i] + 1];
    ++pixel_start[pr[2 * i + 1] + 1];
  }
  for (int64_t r = 0; r < count; ++r) region_start[r + 1] += region_start[r];
  for (int64_t p = 0; p < pixels; ++p) pixel_start[p + 1] += pixel_start[p];
  std::vector<int64_t> region_pixels(k), pixel_regions(k);
  std::vector<int64_t> fill(pixel_start.begin(), pixel_start.end() - 1);
  std::vector<int64_t> left(count, 0);  // uncovered pixels per region
  std::vector<double> sum(count, 0.0);  // their attribution
  for (int64_t i = 0; i < k; ++i) {
    const int64_t r = pr[2 * i], p = pr[2 * i + 1];
    region_pixels[i] = p;  // nonzero() lists pairs in region order
    pixel_regions[fill[p]++] = r;
    ++left[r];
    sum[r] += a[p];
  }
  XraiRanking out;
  std::vector<float> map(pixels, 0.0f);
  std::vector<char> covered(pixels, 0), alive(count, 1);
  while (true) {
    int64_t best = -1;
    double best_gain = -std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < count; ++r) {
      if (!alive[r]) continue;
      if (left[r] < min_pixel_diff || left[r] == 0) {
        alive[r] = 0;
        continue;
      }
      const double gain = sum[r] / static_cast<double>(left[r]);
      if (gain > best_gain) {
        best_gain = gain;
        best = r;
      }
    }
    if (best < 0) break;
    alive[best] = 0;
    int64_t added = 0;
    for (int64_t i = region_start[best]; i < region_start[best + 1]; ++i) {
      const int64_t p = region_pixels[i];
      if (covered[p]) continue;
      covered[p] = 1;
      map[p] = static_cast<float>(best_gain);
      ++added;
      for (int64_t j = pixel_start[p]; j < pixel_start[p + 1]; ++j) {
        --left[pixel_regions[j]];
        sum[pixel_regions[j]] -= a[p];
      }
    }
    out.order.push_back(best);
    out.gains.push_back(static_cast<float>(best_gain));
    out.added.push_back(added);
  }
  double rest = 0;
  for (int64_t p = 0; p < pixels; ++p) {
    if (!covered[p]) {
      rest += a[p];
      ++out.uncovered;
    }
  }
  if (out.uncovered > 0) {
    const auto mean = static_cast<float>(rest / static_cast<double>(out.uncovered));
    for (int64_t p = 0; p < pixels; ++p) {
      if (!covered[p]) map[p] = mean;
    }
  }
  out.map = at::tensor(map, at::kFloat).view(attribution.sizes()).clone();
  return out;
}

}  // namespace xai::core
