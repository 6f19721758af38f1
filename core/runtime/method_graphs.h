// Visiting every method graph of a TorchScript module once, for the load-time graph
// rewrites (traced_flags, attention_rewrite).
#ifndef XAI_CORE_RUNTIME_METHOD_GRAPHS_H_
#define XAI_CORE_RUNTIME_METHOD_GRAPHS_H_

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <functional>
#include <memory>
#include <unordered_set>

namespace xai::core {

// Calls `visit` on the graph of every method of `module` and its submodules, each graph
// once: modules of one TorchScript type share their graphs.
inline void ForEachMethodGraph(const torch::jit::Module& module,
                               const std::function<void(torch::jit::Graph&)>& visit) {
  std::unordered_set<const torch::jit::Graph*> seen;
  for (const torch::jit::Module& m : module.modules()) {
    for (const torch::jit::Method& method : m.get_methods()) {
      const std::shared_ptr<torch::jit::Graph> graph = method.graph();
      if (seen.insert(graph.get()).second) visit(*graph);
    }
  }
}

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_METHOD_GRAPHS_H_
