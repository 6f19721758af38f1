// Resolving how a layer's output holds its feature map (NCHW, NHWC or transformer
// tokens), from its shape against the model's input size, or from what the user declared.
// Pure shape arithmetic: no LibTorch. The rules, in docs/MODELS.md:
//
//  - 4-D [B, d1, d2, d3] reads as NCHW (grid d2 x d3) or NHWC (grid d1 x d2). A reading is
//    plausible when its grid fits the input (each side at most the input's + 8) and keeps
//    the input's aspect within one cell (|h * W - w * H| <= max(H, W)). One plausible
//    reading resolves it. Two are decided by the module's type where PyTorch fixes the
//    layout (Conv*, BatchNorm*, pooling: NCHW; LayerNorm, Linear: the last dimension is
//    the channels), else by a second probe at another input size (the channels stay, the
//    grid grows); else the layer is ambiguous and refused until declared.
//  - 3-D [B, T, C] reads as TOKENS when T = P + h * w for a prefix P of at most 8 tokens and
//    a grid h x w that some stride s cuts from the input (h, w: both floor or both ceil
//    of H/s, W/s). One (P, h, w) resolves it; among several, the one whose stride divides the input
//    exactly, if only one does; else ambiguous.
//  - Anything else is not a feature map.
#ifndef XAI_CORE_RUNTIME_FEATURE_LAYOUT_H_
#define XAI_CORE_RUNTIME_FEATURE_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/runtime/layer_info.h"

namespace xai::core {

// The most prefix tokens inference considers (class, distillation and a few registers).
inline constexpr int64_t kMaxInferredPrefixTokens = 8;

// A layout stated by the user: config.pbtxt's cam_layers, a request's layer_layouts.
struct LayoutDeclaration {
  FeatureLayout kind = FeatureLayout::kNone;  // kNone: inferred (the numbers must be 0)
  int64_t prefix_tokens = 0;                  // kTokens
  int64_t grid_height = 0;                    // kTokens; both 0: from the token count
  int64_t grid_width = 0;
  int unknown_kind = 0;  // a wire value that names no FeatureLayout (refused), else 0
};

struct LayoutInference {
  LayerLayout layout;  // unresolved when not a feature map or ambiguous
  std::string note;    // "inferred: ..." or why unresolved
  bool ambiguous = false;
  // 4-D, both readings plausible, the type silent: a second probe at another input size
  // can decide (InferFromSecondProbe).
  bool wants_second_probe = false;
};

// The layout of an output of `shape` ([1, ...], a batch of one) of a module of class
// `type`, for an input of height x width. `path` names the layer in a refusal's hint.
LayoutInference InferLayout(const std::vector<int64_t>& shape, const std::string& type,
                            int64_t input_height, int64_t input_width,
                            const std::string& path = "...");

// For a 4-D layer that wants a second probe: its shape `other` at another input size
// decides between NCHW (dimension 1 unchanged, 2 and 3 changed) and NHWC (3 unchanged,
// 1 and 2 changed). Ambiguous otherwise (or when `other` is empty: the probe failed).
LayoutInference InferFromSecondProbe(const std::vector<int64_t>& shape,
                                     const std::vector<int64_t>& other,
                                     const std::string& path = "...");

// The declaration's own consistency: numbers >= 0, prefix and grid for TOKENS only, both
// grid sides or neither, none with LAYOUT_AUTO. INVALID_ARGUMENT saying which (the caller
// names the field).
Status CheckLayoutDeclaration(const LayoutDeclaration& declared);

// The layout `declared` gives an output of `shape` for an input of height x width.
// INVALID_ARGUMENT when it does not fit the shape (the message says how; the caller names
// the field).
StatusOr<LayerLayout> ApplyDeclaration(const std::vector<int64_t>& shape,
                                       const LayoutDeclaration& declared, int64_t input_height,
                                       int64_t input_width);

// What refusing an ambiguous or unresolved layer tells the user: the layer, its shape, why,
// and the config field that resolves it.
std::string UnresolvedLayoutMessage(const LayerInfo& layer);

// The CAM layer pytorch-grad-cam's guidance recommends for a transformer: the first
// LayerNorm of the last block, a block being a module with two or more LayerNorm children
// (ViT's ln_1 and ln_2, Swin's norm1 and norm2) whose output is tokens or channels-last.
// "" when the model has no such block (a CNN).
std::string RecommendedCamLayer(const std::vector<LayerInfo>& layers);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_FEATURE_LAYOUT_H_
