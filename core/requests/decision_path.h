// DecisionPath: the chains of channels that carried the decision (see
// core/methods/path/decision_path.h), with the diagram and the class path library's
// similarity.
#ifndef XAI_CORE_REQUESTS_DECISION_PATH_H_
#define XAI_CORE_REQUESTS_DECISION_PATH_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/path/path_types.h"
#include "core/requests/request_types.h"

namespace xai::core {

class ModelVersion;
struct DecisionPathSpec;
struct ServableModel;

struct DecisionPathRequest {
  ModelRef model;
  ImageRef image;
  int target_class = -1;            // -1: the top-1 class
  std::vector<std::string> layers;  // shallow to deep; empty: the model's default path layers
  float threshold = 0;              // in (0,1]; 0: 0.5
  int max_channels = 0;             // 0: 16
  int top_chains = 0;               // 0: 3
  bool render = false;              // the diagram PNG
  bool return_maps = false;         // every node's activation map
  RequestContext context;
};

struct PathNode {
  int layer = 0;  // index into DecisionPathResult::layers
  int channel = 0;
  float relevance = 0;
  float share = 0;  // of the layer's positive relevance
  FloatTensor map;  // [h, w], with return_maps
};

struct PathChain {
  std::vector<int> channels;  // one per layer
  float log_score = 0;
};

struct DecisionPathResult {
  ModelRef model;
  std::vector<LabeledScore> classes;  // top classes of the same forward
  int target_class = 0;
  std::vector<std::string> layers;
  std::vector<PathNode> nodes;
  std::vector<PathEdge> edges;
  std::vector<PathChain> chains;  // best first
  std::string diagram_png;        // with render
  // With the model's class path library at the same layers: per layer, the weighted
  // Jaccard similarity to the target class's usual critical channels, and the mean.
  std::vector<float> profile_similarity;
  float profile_similarity_mean = 0;
};

// Checks a DecisionPath request against `model` and fills `spec` (defaults applied).
// INVALID_ARGUMENT naming the field: target_class, layers (unknown, not 4-D, repeated, out
// of execution order), threshold, max_channels, top_chains.
Status ValidateDecisionPath(const DecisionPathRequest& request, const ServableModel& model,
                            DecisionPathSpec* spec);

// Validates `request` against the version `serving` gives and queues it there. Answers
// `done` exactly once.
void QueueDecisionPath(const RequestEnvironment& environment, const ServingFn& serving,
                       DecisionPathRequest request, RequestCallback<DecisionPathResult> done);

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_DECISION_PATH_H_
