// What the probe forward learns about one module of a model. Plain data: included by
// code that must not see LibTorch's headers.
#ifndef XAI_CORE_RUNTIME_LAYER_INFO_H_
#define XAI_CORE_RUNTIME_LAYER_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace xai::core {

struct LayerInfo {
  std::string path;                   // "layer4.1.conv2", as PyTorch's named_modules() names it
  std::string type;                   // class name, e.g. "Conv2d"
  std::vector<int64_t> output_shape;  // empty when the output is not a single tensor
  // Position of the module's return in execution order (post-order of calls); the module
  // itself is listed at its call (pre-order). Used to pick the deepest feature map.
  int completion_order = 0;
  // "" when the forward graph splits at this layer's output (graph_split.h), so that
  // ABLATION_CAM runs only the network after it on the ablated outputs; else why not (then
  // ABLATION_CAM runs full forwards with the layer's output replaced).
  std::string split_refusal;

  bool is_feature_map() const { return output_shape.size() == 4; }
};

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_LAYER_INFO_H_
