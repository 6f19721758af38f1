#include "core/runtime/feature_layout.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

namespace xai::core {
namespace {

// As ShapeToString (input_tensor.h) writes shapes, without its LibTorch header.
std::string Shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string GridText(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

// A grid that an input of H x W, cut by some stride, gives: it fits (with room for padding)
// and keeps the input's aspect within one cell.
bool PlausibleGrid(int64_t h, int64_t w, int64_t H, int64_t W) {
  if (h < 1 || w < 1 || h > H + 8 || w > W + 8) return false;
  return std::llabs(h * W - w * H) <= std::max(H, W);
}

// Classes whose output PyTorch defines as [N, C, H, W] whatever the model does.
bool TypeIsChannelsFirst(const std::string& type) {
  static const std::set<std::string> kTypes = {"Conv2d",
                                               "ConvTranspose2d",
                                               "BatchNorm2d",
                                               "SyncBatchNorm",
                                               "InstanceNorm2d",
                                               "GroupNorm",
                                               "MaxPool2d",
                                               "AvgPool2d",
                                               "AdaptiveAvgPool2d",
                                               "AdaptiveMaxPool2d",
                                               "Conv2dNormActivation",
                                               "LayerNorm2d"};
  return kTypes.count(type) > 0;
}

// Classes that act on the last dimension: their 4-D output is channels-last.
bool TypeIsChannelsLast(const std::string& type) { return type == "LayerNorm" || type == "Linear"; }

struct TokenGrid {
  int64_t prefix;
  int64_t height;
  int64_t width;
  bool exact;  // some stride that gives it divides both input sides
};

// Every (prefix, grid) that `tokens` tokens can be for an H x W input, with prefixes in
// [min_prefix, max_prefix].
std::vector<TokenGrid> TokenGrids(int64_t tokens, int64_t H, int64_t W, int64_t min_prefix,
                                  int64_t max_prefix) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, bool> found;
  for (int64_t prefix = min_prefix; prefix <= max_prefix; ++prefix) {
    const int64_t n = tokens - prefix;
    if (n < 1) break;
    for (int64_t s = 1; s <= std::max(H, W); ++s) {
      const bool exact = H % s == 0 && W % s == 0;
      // Both sides rounded down (a patch embedding without padding) or both up (padded).
      for (const bool up : {false, true}) {
        const int64_t h = up ? (H + s - 1) / s : H / s;
        const int64_t w = up ? (W + s - 1) / s : W / s;
        if (h < 1 || w < 1 || h * w != n) continue;
        bool& e = found[{prefix, h, w}];
        e = e || exact;
      }
    }
  }
  std::vector<TokenGrid> out;
  for (const auto& [key, exact] : found) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), exact});
  }
  return out;
}

// The one grid of `grids` inference may take: the only one, or the only exact one.
const TokenGrid* OnlyGrid(const std::vector<TokenGrid>& grids) {
  if (grids.size() == 1) return &grids[0];
  const TokenGrid* exact = nullptr;
  for (const TokenGrid& g : grids) {
    if (!g.exact) continue;
    if (exact != nullptr) return nullptr;
    exact = &g;
  }
  return exact;
}

LayerLayout Nchw(const std::vector<int64_t>& s) {
  return {FeatureLayout::kNchw, 0, s[2], s[3], s[1]};
}
LayerLayout Nhwc(const std::vector<int64_t>& s) {
  return {FeatureLayout::kNhwc, 0, s[1], s[2], s[3]};
}

// How to declare the layout of the layer at `path`, for a note that refuses it.
std::string DeclareHint(const std::string& path) {
  return "; declare its layout in config.pbtxt (cam_layers { layer: \"" + path +
         "\" layout: NCHW | NHWC | TOKENS prefix_tokens: P }) or per call "
         "(GradCAMRequest.layer_layouts)";
}

}  // namespace

const char* FeatureLayoutName(FeatureLayout layout) {
  switch (layout) {
    case FeatureLayout::kNchw:
      return "NCHW";
    case FeatureLayout::kNhwc:
      return "NHWC";
    case FeatureLayout::kTokens:
      return "TOKENS";
    case FeatureLayout::kNone:
      break;
  }
  return "none";
}

std::string LayerLayout::ToString() const {
  if (!resolved()) return "none";
  std::string out = std::string(FeatureLayoutName(kind)) + " (";
  if (kind == FeatureLayout::kTokens) {
    out += std::to_string(prefix_tokens) +
           (prefix_tokens == 1 ? " prefix token, " : " prefix tokens, ");
  }
  return out + GridText(height, width) + " grid, " + std::to_string(channels) + " channels)";
}

LayoutInference InferLayout(const std::vector<int64_t>& shape, const std::string& type,
                            int64_t input_height, int64_t input_width, const std::string& path) {
  LayoutInference out;
  const int64_t H = input_height;
  const int64_t W = input_width;
  const std::string input = GridText(H, W) + " input";
  if (shape.empty()) {
    out.note = "not a feature map: the module does not return one tensor";
    return out;
  }
  if (shape.size() == 4) {
    const bool nchw = PlausibleGrid(shape[2], shape[3], H, W);
    const bool nhwc = PlausibleGrid(shape[1], shape[2], H, W);
    if (nchw && (!nhwc || TypeIsChannelsFirst(type))) {
      out.layout = Nchw(shape);
      out.note = std::string("inferred: ") +
                 (nhwc ? "a " + type + " outputs NCHW" : "only NCHW fits the " + input);
    } else if (nhwc && (!nchw || TypeIsChannelsLast(type))) {
      out.layout = Nhwc(shape);
      out.note = std::string("inferred: ") +
                 (nchw ? "a " + type + " acts on the last dimension, the channels"
                       : "only NHWC (channels-last) fits the " + input);
    } else if (nchw && nhwc) {
      out.ambiguous = true;
      out.wants_second_probe = true;
      out.note = "ambiguous: " + Shape(shape) + " reads as NCHW (" + std::to_string(shape[1]) +
                 " channels on " + GridText(shape[2], shape[3]) + ") or NHWC (" +
                 std::to_string(shape[3]) + " channels on " + GridText(shape[1], shape[2]) + ")" +
                 DeclareHint(path);
    } else {
      out.note = "not a feature map of the " + input + ": neither " + GridText(shape[2], shape[3]) +
                 " (NCHW) nor " + GridText(shape[1], shape[2]) + " (NHWC) is a grid of it" +
                 DeclareHint(path);
    }
    return out;
  }
  if (shape.size() == 3) {
    const std::vector<TokenGrid> grids = TokenGrids(shape[1], H, W, 0, kMaxInferredPrefixTokens);
    if (const TokenGrid* g = OnlyGrid(grids)) {
      out.layout = {FeatureLayout::kTokens, g->prefix, g->height, g->width, shape[2]};
      out.note = "inferred: " + std::to_string(shape[1]) +
                 " tokens = " + std::to_string(g->prefix) + " prefix + a " +
                 GridText(g->height, g->width) + " grid of the " + input;
    } else if (grids.empty()) {
      out.note = "not a feature map of the " + input + ": " + std::to_string(shape[1]) +
                 " tokens are no grid of it after at most " +
                 std::to_string(kMaxInferredPrefixTokens) + " prefix tokens" + DeclareHint(path);
    } else {
      out.ambiguous = true;
      std::string readings;
      for (size_t i = 0; i < grids.size() && i < 3; ++i) {
        readings += (i ? ", " : "") + std::to_string(grids[i].prefix) + " prefix + " +
                    GridText(grids[i].height, grids[i].width);
      }
      out.note = "ambiguous: " + std::to_string(shape[1]) + " tokens read as " + readings +
                 (grids.size() > 3 ? ", ..." : "") + DeclareHint(path);
    }
    return out;
  }
  out.note = "not a feature map: a " + std::to_string(shape.size()) + "-D output " + Shape(shape);
  return out;
}

LayoutInference InferFromSecondProbe(const std::vector<int64_t>& shape,
                                     const std::vector<int64_t>& other, const std::string& path) {
  LayoutInference out;
  if (shape.size() == 4 && other.size() == 4 && other[0] == shape[0]) {
    const bool same1 = other[1] == shape[1];
    const bool same3 = other[3] == shape[3];
    if (same1 && !same3 && other[2] != shape[2]) {
      out.layout = Nchw(shape);
      out.note =
          "inferred: at another input size the grid changed and dimension 1, the "
          "channels, did not";
      return out;
    }
    if (same3 && !same1 && other[2] != shape[2]) {
      out.layout = Nhwc(shape);
      out.note =
          "inferred: at another input size the grid changed and the last dimension, "
          "the channels, did not";
      return out;
    }
  }
  out.ambiguous = true;
  out.note = "ambiguous: " + Shape(shape) + " reads as NCHW or NHWC" +
             (other.empty() ? std::string(" (the model does not run at another input size)")
                            : " (at another input size it is " + Shape(other) + ")") +
             DeclareHint(path);
  return out;
}

Status CheckLayoutDeclaration(const LayoutDeclaration& declared) {
  if (declared.unknown_kind != 0) {
    return InvalidArgumentError(
        "layout " + std::to_string(declared.unknown_kind) +
        " is not a FeatureLayout (0 LAYOUT_AUTO, 1 NCHW, 2 NHWC, 3 TOKENS)");
  }
  if (declared.prefix_tokens < 0 || declared.grid_height < 0 || declared.grid_width < 0) {
    return InvalidArgumentError("prefix_tokens, grid_height and grid_width must be >= 0");
  }
  if (declared.kind != FeatureLayout::kTokens &&
      (declared.prefix_tokens != 0 || declared.grid_height != 0 || declared.grid_width != 0)) {
    return InvalidArgumentError("prefix_tokens, grid_height and grid_width apply to TOKENS only");
  }
  if ((declared.grid_height == 0) != (declared.grid_width == 0)) {
    return InvalidArgumentError("set both grid_height and grid_width, or neither");
  }
  return OkStatus();
}

StatusOr<LayerLayout> ApplyDeclaration(const std::vector<int64_t>& shape,
                                       const LayoutDeclaration& declared, int64_t input_height,
                                       int64_t input_width) {
  XAI_RETURN_IF_ERROR(CheckLayoutDeclaration(declared));
  switch (declared.kind) {
    case FeatureLayout::kNone:
      return InvalidArgumentError("no layout declared");
    case FeatureLayout::kNchw:
    case FeatureLayout::kNhwc:
      if (shape.size() != 4) {
        return InvalidArgumentError(std::string(FeatureLayoutName(declared.kind)) +
                                    " needs a 4-D output; the layer outputs " + Shape(shape));
      }
      return declared.kind == FeatureLayout::kNchw ? Nchw(shape) : Nhwc(shape);
    case FeatureLayout::kTokens:
      break;
  }
  if (shape.size() != 3) {
    return InvalidArgumentError(
        "TOKENS needs a 3-D output [B, tokens, channels]; the layer outputs " + Shape(shape));
  }
  const int64_t grid_tokens = shape[1] - declared.prefix_tokens;
  if (grid_tokens < 1) {
    return InvalidArgumentError("prefix_tokens " + std::to_string(declared.prefix_tokens) +
                                " leaves no grid of the layer's " + std::to_string(shape[1]) +
                                " tokens");
  }
  LayerLayout layout{FeatureLayout::kTokens, declared.prefix_tokens, declared.grid_height,
                     declared.grid_width, shape[2]};
  if (declared.grid_height > 0) {
    if (declared.grid_height * declared.grid_width != grid_tokens) {
      return InvalidArgumentError("a " + GridText(declared.grid_height, declared.grid_width) +
                                  " grid holds " +
                                  std::to_string(declared.grid_height * declared.grid_width) +
                                  " tokens, but the layer has " + std::to_string(grid_tokens) +
                                  " after " + std::to_string(declared.prefix_tokens) + " prefix");
    }
    return layout;
  }
  const std::vector<TokenGrid> grids = TokenGrids(shape[1], input_height, input_width,
                                                  declared.prefix_tokens, declared.prefix_tokens);
  const TokenGrid* g = OnlyGrid(grids);
  if (g == nullptr) {
    return InvalidArgumentError(
        std::to_string(grid_tokens) + " tokens after " + std::to_string(declared.prefix_tokens) +
        " prefix are no single grid of the " + GridText(input_height, input_width) +
        " input; set grid_height and grid_width");
  }
  layout.height = g->height;
  layout.width = g->width;
  return layout;
}

std::string UnresolvedLayoutMessage(const LayerInfo& layer) {
  return "layer \"" + layer.path + "\" (" + layer.type + ", output " +
         (layer.output_shape.empty() ? std::string("not one tensor") : Shape(layer.output_shape)) +
         ") is not a CAM layer: " + layer.layout_note;
}

std::string RecommendedCamLayer(const std::vector<LayerInfo>& layers) {
  // LayerNorm layers with a token or channels-last output, grouped by their parent module.
  std::map<std::string, std::vector<const LayerInfo*>> blocks;
  for (const LayerInfo& layer : layers) {
    if (layer.type != "LayerNorm") continue;
    if (layer.layout.kind != FeatureLayout::kTokens && layer.layout.kind != FeatureLayout::kNhwc) {
      continue;
    }
    const size_t dot = layer.path.rfind('.');
    blocks[dot == std::string::npos ? "" : layer.path.substr(0, dot)].push_back(&layer);
  }
  const LayerInfo* best = nullptr;
  for (const auto& [parent, norms] : blocks) {
    if (norms.size() < 2) continue;
    const LayerInfo* first = norms.front();  // layers are in order of first call
    if (best == nullptr || first->completion_order > best->completion_order) best = first;
  }
  return best ? best->path : "";
}

}  // namespace xai::core
