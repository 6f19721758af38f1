// The faithfulness metrics' options and results, without LibTorch: requests of every RPC that
// offers them (GradCAM, Attribute) carry these.
#ifndef XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_TYPES_H_
#define XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_TYPES_H_

#include <optional>
#include <vector>

namespace xai::core {

inline constexpr int kDefaultFaithfulnessSteps = 16;
inline constexpr int kMaxFaithfulnessSteps = 256;

// What a request asks for (the wire's MetricsOptions).
struct MetricsRequest {
  bool enabled = false;
  int steps = 0;  // 0: kDefaultFaithfulnessSteps; at most kMaxFaithfulnessSteps
  bool random_baseline = false;
};

struct FaithfulnessScores {
  float deletion_auc = 0;              // lower is better
  float insertion_auc = 0;             // higher is better
  float top20_probability = 0;         // only the map's top 20% of pixels kept
  std::vector<float> deletion_curve;   // steps + 1 probabilities, input to blurred copy
  std::vector<float> insertion_curve;  // steps + 1 probabilities, blurred copy to input
};

struct FaithfulnessResult {
  float probability = 0;          // the target's, on the input
  float blurred_probability = 0;  // on the blurred copy
  FaithfulnessScores map;
  std::optional<FaithfulnessScores> random;  // with spec.random_baseline
};

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_FAITHFULNESS_FAITHFULNESS_TYPES_H_
