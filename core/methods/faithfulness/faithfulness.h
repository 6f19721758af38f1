// Faithfulness metrics of a map (docs/METHODS.md): the input's pixels, in the map's order of
// importance, removed (deletion) or revealed (insertion) over a blurred copy of the input in
// `steps` steps, and the target's probability read on every perturbed input (Petsiuk et al.,
// RISE, 2018). The metrics are rows of the table in faithfulness_metrics.h.
#ifndef XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_H_
#define XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "core/base/status.h"
#include "core/methods/faithfulness/faithfulness_types.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

struct FaithfulnessSpec {
  int steps = kDefaultFaithfulnessSteps;  // points of each curve after the first, >= 1
  bool random_baseline = false;           // also score a random map (a fixed permutation)
  int batch_size = 64;                    // perturbed inputs per forward
  // Asked before every batch of forwards; a status other than OK stops the work with it.
  // Unset: never stops.
  std::function<Status()> interrupted;
};

struct ScoredMap {
  int target = 0;  // class index
  at::Tensor map;  // [H,W], the input's height and width; larger is more important
};

// The blurred copy the metrics perturb towards: each channel of `input` ([N,C,H,W]) convolved
// with an 11 x 11 Gaussian of sigma 5 (sampled, normalised to sum 1), zero padding.
at::Tensor BlurredCopy(const at::Tensor& input);

// The rank of each pixel of `map` ([H,W]) in descending order of value, ties by ascending
// pixel index: [H*W] int64, 0 for the most important pixel.
at::Tensor PixelRanks(const at::Tensor& map);

// The ranks of the random baseline map for `pixels` pixels: a permutation drawn by a
// Fisher-Yates shuffle from std::mt19937 with seed 0 (the same on every machine).
at::Tensor RandomPixelRanks(int64_t pixels);

// Scores every map of `maps` on `input` ([1,C,H,W], the model input the maps explain) with
// `instance` (its frozen copy where it has one). Forwards: 2 (the input and its blurred
// copy), 2 * steps - 1 per map, and 2 * steps - 1 once for the random baseline. INTERNAL
// when a forward fails; spec.interrupted's status when it stops the work.
StatusOr<std::vector<FaithfulnessResult>> ScoreMaps(ModelPool::Handle& instance,
                                                    const at::Tensor& input,
                                                    const std::vector<ScoredMap>& maps,
                                                    const FaithfulnessSpec& spec);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_H_
