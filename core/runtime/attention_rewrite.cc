#include "core/runtime/attention_rewrite.h"

#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/runtime/method_graphs.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

using torch::jit::Graph;
using torch::jit::NamedValue;
using torch::jit::Node;
using torch::jit::Value;

// aten::_native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight,
// qkv_bias, proj_weight, proj_bias, mask, need_weights, average_attn_weights, mask_type)
// -> (output, weights); batch-first [B, T, D] inputs.
constexpr size_t kInputs = 13;

// Replaces `node`'s uses with the differentiable operations, inserted before it; "" on
// success (the caller destroys it), else why it cannot (nothing changed).
std::string Replace(Graph& graph, Node* node) {
  if (node->inputs().size() != kInputs) return "an unknown signature";
  const auto embed_dim = torch::jit::constant_as<int64_t>(node->input(3));
  const auto heads = torch::jit::constant_as<int64_t>(node->input(4));
  if (!embed_dim || !heads || *heads < 1 || *embed_dim % *heads != 0) {
    return "its embedding size or head count is not a constant";
  }
  const c10::optional<c10::IValue> mask = torch::jit::toIValue(node->input(9));
  if (!mask || !mask->isNone()) return "it has an attention mask";
  const bool average = torch::jit::constant_as<bool>(node->input(11)).value_or(true);
  const int64_t d = *embed_dim;
  const int64_t h = *heads;
  torch::jit::WithInsertPoint guard(node);
  const auto constant = [&graph](const c10::IValue& v) { return graph.insertConstant(v); };
  const auto op = [&graph](const char* name, std::vector<NamedValue> args) {
    return graph.insert(c10::Symbol::fromQualString(name), args);
  };
  Value* qkv[3];
  for (int64_t i = 0; i < 3; ++i) {
    Value* weight = op("aten::narrow", {node->input(5), constant(0), constant(i * d), constant(d)});
    Value* bias = op("aten::narrow", {node->input(6), constant(0), constant(i * d), constant(d)});
    Value* y = op("aten::linear", {node->input(i), weight, bias});  // [B,T,D]
    y = op("aten::unflatten", {y, constant(-1), constant(std::vector<int64_t>{h, d / h})});
    qkv[i] = op("aten::transpose", {y, constant(1), constant(2)});  // [B,H,T,d/h]
  }
  Value* q = op("aten::div", {qkv[0], constant(std::sqrt(static_cast<double>(d / h)))});
  Value* scores =
      op("aten::matmul", {q, op("aten::transpose", {qkv[1], constant(-2), constant(-1)})});
  Value* attention = op("aten::softmax", {scores, constant(-1)});
  Value* out = op("aten::matmul", {attention, qkv[2]});  // [B,H,T,d/h]
  out = op("aten::flatten", {op("aten::transpose", {out, constant(1), constant(2)}), constant(2),
                             constant(3)});  // [B,T,D]
  out = op("aten::linear", {out, node->input(7), node->input(8)});
  node->output(0)->replaceAllUsesWith(out);
  if (node->output(1)->hasUses()) {
    Value* weights =
        average ? op("aten::mean", {attention, constant(std::vector<int64_t>{1})}) : attention;
    node->output(1)->replaceAllUsesWith(weights);
  }
  return "";
}

// The nodes to replace in `block` and the blocks inside it.
void Collect(torch::jit::Block* block, std::vector<Node*>& found) {
  static const c10::Symbol kFastPath =
      c10::Symbol::fromQualString("aten::_native_multi_head_attention");
  for (Node* node : block->nodes()) {
    for (torch::jit::Block* inner : node->blocks()) Collect(inner, found);
    if (node->kind() == kFastPath) found.push_back(node);
  }
}

}  // namespace

StatusOr<int> MakeAttentionDifferentiable(torch::jit::Module& module) {
  try {
    int replaced = 0;
    ForEachMethodGraph(module, [&replaced](Graph& graph) {
      std::vector<Node*> found;
      Collect(graph.block(), found);
      for (Node* node : found) {
        // Left in place where it cannot be replaced: a scripted MultiheadAttention reads
        // its sizes from attributes and takes this branch only when nothing needs a
        // gradient, as PyTorch decides at run time.
        if (!Replace(graph, node).empty()) continue;
        node->destroy();
        ++replaced;
      }
    });
    return replaced;
  } catch (const std::exception& e) {
    return InternalError("cannot rewrite the model's fast attention: " + ExceptionMessage(e));
  }
}

}  // namespace xai::core
