// What the probe forward learns about one module of a model. Plain data: included by
// code that must not see LibTorch's headers.
#ifndef XAI_CORE_RUNTIME_LAYER_INFO_H_
#define XAI_CORE_RUNTIME_LAYER_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace xai::core {

// How a layer's output holds a feature map of C channels on an H x W grid. CAM methods
// compute on the [B, C, H, W] view (pytorch-grad-cam's reshape_transform).
enum class FeatureLayout {
  kNone,    // not a feature map, or its layout is ambiguous (LayerInfo::layout_note says)
  kNchw,    // [B, C, H, W]
  kNhwc,    // [B, H, W, C]: channels-last
  kTokens,  // [B, prefix + H*W, C]: transformer tokens, the grid row-major after the prefix
};

// "NCHW", "NHWC", "TOKENS", or "none".
const char* FeatureLayoutName(FeatureLayout layout);

struct LayerLayout {
  FeatureLayout kind = FeatureLayout::kNone;
  int64_t prefix_tokens = 0;  // kTokens: class, distillation or register tokens, dropped
  int64_t height = 0;         // the grid
  int64_t width = 0;
  int64_t channels = 0;

  bool resolved() const { return kind != FeatureLayout::kNone; }
  friend bool operator==(const LayerLayout& a, const LayerLayout& b) {
    return a.kind == b.kind && a.prefix_tokens == b.prefix_tokens && a.height == b.height &&
           a.width == b.width && a.channels == b.channels;
  }
  friend bool operator!=(const LayerLayout& a, const LayerLayout& b) { return !(a == b); }
  // "TOKENS (1 prefix token, 14x14 grid, 768 channels)", for messages and logs.
  std::string ToString() const;
};

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
  // How CAM methods read the output (core/runtime/feature_layout.h resolves it at load),
  // and how that was decided: "inferred: ...", "declared in config.pbtxt", or, when
  // unresolved, why (an ambiguous shape names the config field that resolves it).
  LayerLayout layout;
  std::string layout_note;

  // Usable as a CAM layer: its output is a feature map in a resolved layout.
  bool is_feature_map() const { return layout.resolved(); }
};

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_LAYER_INFO_H_
