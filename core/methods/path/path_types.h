// Plain types of a DecisionPath shared by the engine, the Explainer and the diagram.
#ifndef XAI_CORE_METHODS_PATH_PATH_TYPES_H_
#define XAI_CORE_METHODS_PATH_PATH_TYPES_H_

namespace xai::core {

// From (layer, from_channel) to (layer + 1, to_channel); layers are indices, shallow to
// deep. weight: the share of to_channel's positive contribution that from_channel supplies.
struct PathEdge {
  int layer = 0;
  int from_channel = 0;
  int to_channel = 0;
  float weight = 0;
};

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_PATH_PATH_TYPES_H_
