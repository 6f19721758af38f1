#include "core/runtime/traced_flags.h"

#include <torch/csrc/jit/ir/ir.h>

#include "core/runtime/method_graphs.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

// aten::_convolution(input, weight, bias, stride, padding, dilation, transposed,
// output_padding, groups, benchmark, deterministic, cudnn_enabled, allow_tf32)
constexpr size_t kConvolutionInputs = 13;
constexpr size_t kAllowTf32 = 12;

int ClearInBlock(torch::jit::Graph& graph, torch::jit::Block* block) {
  static const c10::Symbol kConvolution = c10::Symbol::fromQualString("aten::_convolution");
  int changed = 0;
  for (torch::jit::Node* node : block->nodes()) {
    for (torch::jit::Block* inner : node->blocks()) changed += ClearInBlock(graph, inner);
    if (node->kind() != kConvolution || node->inputs().size() != kConvolutionInputs) continue;
    const auto current = torch::jit::constant_as<bool>(node->input(kAllowTf32));
    if (current.has_value() && !*current) continue;
    torch::jit::WithInsertPoint before(node);
    node->replaceInput(kAllowTf32, graph.insertConstant(false));
    ++changed;
  }
  return changed;
}

}  // namespace

StatusOr<int> ClearTracedTf32(torch::jit::Module& module) {
  try {
    int changed = 0;
    ForEachMethodGraph(module, [&changed](torch::jit::Graph& graph) {
      changed += ClearInBlock(graph, graph.block());
    });
    return changed;
  } catch (const std::exception& e) {
    return InternalError("cannot rewrite the model's convolution flags: " + ExceptionMessage(e));
  }
}

}  // namespace xai::core
