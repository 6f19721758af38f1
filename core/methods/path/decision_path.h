// DecisionPath: the chain of channels that carried a decision (Effective Path's critical
// channels, traced backward by their contributions, with the best chains found by
// Viterbi). See issue 5 and docs/METHODS.md, "DecisionPath".
//
// For layers L_1..L_n (shallow to deep) and a target class t with logit y_t:
//   relevance      R_l(c) = sum_hw A_l(c) * dy_t/dA_l(c)
//   critical set   S_n: fewest channels by descending positive relevance covering
//                  `threshold` of the positive total, at most `max_channels`
//   contributions  for o in S_{l+1}: s_o = sum_hw A_{l+1}(o) * stopgrad(G_{l+1}(o)),
//                  c_{o,i} = sum_hw A_l(i) * ds_o/dA_l(i), a_{o,i} = c+ / sum_j c+
//   S_l            union over o of o's fewest channels covering `threshold` of its weight,
//                  capped at `max_channels` by weight
//   chains         one channel per layer; score log(R_n(c_n)/sum R_n+) + sum log a
#ifndef XAI_CORE_METHODS_PATH_DECISION_PATH_H_
#define XAI_CORE_METHODS_PATH_DECISION_PATH_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/methods/path/path_types.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

class ComputePool;

inline constexpr float kDefaultPathThreshold = 0.5f;
inline constexpr int kDefaultPathChannels = 16;
inline constexpr int kMaxPathChannels = 64;
inline constexpr int kDefaultPathChains = 3;
inline constexpr int kMaxPathChains = 64;
inline constexpr int kMaxPathLayers = 32;

// The indices of the fewest entries of `weights`, by descending value (ties: lower index
// first), whose sum reaches `threshold` times the sum of the positive entries; at most
// `cap`. Only positive entries are taken; none when no entry is positive.
std::vector<int> CoveringSet(const std::vector<float>& weights, float threshold, int cap);

// The layered graph the chains are chosen from. Layers are 0-based, shallow to deep.
struct PathGraph {
  std::vector<std::vector<int>> sets;  // the critical channels of each layer
  // log(R_n(c) / sum of positive R_n) of each channel of sets.back(), in the same order.
  std::vector<double> last_log_share;
  // edges[l][{i, o}] = a_{o,i} > 0: from channel i of layer l to channel o of layer l+1.
  std::vector<std::map<std::pair<int, int>, double>> edges;
};

struct PathChainResult {
  std::vector<int> channels;  // one per layer, shallow to deep
  double log_score = 0;
};

// The `k` best chains by score, best first (ties: lexicographically smaller channels
// first), by dynamic programming over the layers (k-best Viterbi). A chain uses only edges
// present in the graph. Fewer than k when fewer chains exist.
std::vector<PathChainResult> BestChains(const PathGraph& graph, int k);

// How a transition's per-channel products run (see RunDecisionPath).
enum class PathTransitions {
  kAuto,        // batched on CUDA, sequential on a CPU
  kSequential,  // one backward per critical channel
  kBatched,     // one backward of a batch through the stage alone, where the stage allows
};

struct DecisionPathSpec {
  std::vector<std::string> layers;  // validated: 4-D outputs, strictly in execution order
  int target = -1;                  // -1: the top-1 class
  float threshold = kDefaultPathThreshold;
  int max_channels = kDefaultPathChannels;
  int top_chains = kDefaultPathChains;
  bool keep_maps = false;  // return every node's activation map
  PathTransitions transitions = PathTransitions::kAuto;
};

struct PathNodeResult {
  int layer = 0;
  int channel = 0;
  float relevance = 0;
  float share = 0;  // relevance / the layer's positive relevance
  at::Tensor map;   // [h, w] float32 CPU, when keep_maps
};

struct DecisionPathOutput {
  at::Tensor logits;  // [num_classes], CPU float32
  int target = 0;
  std::vector<PathNodeResult> nodes;  // by layer, then by descending relevance
  std::vector<PathEdge> edges;        // by layer, then to_channel, then descending weight
  std::vector<PathChainResult> chains;
  // Per transition l (from layer l+1 down to layer l): whether its products ran batched.
  std::vector<bool> batched_transitions;
};

// Runs `instance` on `input` ([1,C,H,W]): one forward with every layer captured (cut at
// the first), one backward for the relevances, and per transition the vector-Jacobian
// products of layer l+1's critical channels with respect to layer l:
//  - sequential: one backward per critical channel through the captured graph (on a CPU,
//    spread over `compute`'s free helpers when given);
//  - batched: layer l+1's module run alone on K copies of layer l's output, and one
//    backward of that batch of K, each row seeded with its own channel. Only where the
//    module computes layer l+1's output from layer l's alone: checked numerically on every
//    call (row 0 must reproduce the captured output; it comes with the batch at no extra
//    cost), falling back to sequential products otherwise. Equal to sequential within
//    float rounding: in eval mode the rows are independent.
// INVALID_ARGUMENT when a layer does not reach the output; INTERNAL when LibTorch throws.
StatusOr<DecisionPathOutput> RunDecisionPath(ModelPool::Handle& instance, const at::Tensor& input,
                                             const DecisionPathSpec& spec,
                                             ComputePool* compute = nullptr);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_PATH_DECISION_PATH_H_
