// A model's forward split at one layer's output, so that the rest of the network can run
// alone on other values of that output (ABLATION_CAM's ablated channels).
//
// The forward graph of the instrumented module (layer_capture.h) is inlined; the layer's
// output is the value its cut switch yields, which must appear once, outside any loop or
// branch. The nodes after it form the suffix graph, whose inputs are the module, the
// layer's output and the values from before the cut that the suffix still reads (a
// residual block's input, the network's input): those are captured by one full forward of
// a second graph that returns them beside the logits, copied as they were at the cut.
// Module attributes and constants the suffix reads are re-read there, not captured.
//
// The nodes up to the cut form the prefix, which FreezePrefix makes a module of its own and
// freezes for inference: Grad-CAM on the CPU runs it without autograd and only the suffix
// with it.
//
// Thread safety: use a split only with the instance it was built from, held exclusively.
#ifndef XAI_CORE_RUNTIME_GRAPH_SPLIT_H_
#define XAI_CORE_RUNTIME_GRAPH_SPLIT_H_

#include <torch/csrc/jit/api/module.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

class LayerSplit {
 public:
  // What one full forward captures at the cut.
  struct Cut {
    at::Tensor logits;                // [1, classes]
    at::Tensor output;                // the layer's output, [1, ...]
    std::vector<c10::IValue> values;  // what the suffix reads from before the cut
  };

  // Splits `module`'s forward at the output of its submodule `path`. FAILED_PRECONDITION
  // with the reason when the graph does not allow it: the layer's output is not found
  // (the module is not instrumented or never runs), appears more than once (the module
  // runs several times) or inside a loop or branch.
  static StatusOr<std::unique_ptr<LayerSplit>> Create(const torch::jit::Module& module,
                                                      const std::string& path);
  ~LayerSplit();

  // One full forward of `input` ([1,...]) that also returns the cut's values.
  // LibTorch's exceptions propagate.
  Cut Forward(const torch::jit::Module& module, const at::Tensor& input) const;

  // The logits of the network after the layer for `outputs` ([n,...] values of the
  // layer's output) with the values of `cut` (tensors of batch 1 repeated n times).
  // LibTorch's exceptions propagate.
  at::Tensor Suffix(const torch::jit::Module& module, const at::Tensor& outputs,
                    const Cut& cut) const;

  // The network before the cut as a module of its own, frozen for inference like the pool's
  // frozen copy (freezing.h: weights inlined, batch norms folded, no capture switches): its
  // forward(x) returns the layer's output and the values the suffix reads, as RunPrefix
  // unpacks them. `module`: the instrumented module the split was made from, with every
  // switch off; `optimize`: as FreezeForInference's (the form the pool's frozen copy kept).
  // FAILED_PRECONDITION with LibTorch's reason when it cannot be frozen.
  // Compare its output with Forward's before use: its float rounding differs.
  StatusOr<torch::jit::Module> FreezePrefix(const torch::jit::Module& module, bool optimize) const;

  // Runs a module that FreezePrefix made on `input` ([n,...]): the Cut without logits.
  // LibTorch's exceptions propagate.
  static Cut RunPrefix(torch::jit::Module& prefix, const at::Tensor& input);

  // The output of the network after the layer for `output` ([n,...]) and `values`, of the
  // same batch: both as they are, no copies (the suffix may change them in place), so that
  // autograd can reach `output`. LibTorch's exceptions propagate.
  at::Tensor SuffixOf(const torch::jit::Module& module, const at::Tensor& output,
                      std::vector<c10::IValue> values) const;

  // Nodes of the inlined graph before and after the cut (for logs and tests), and the
  // number of values that cross it besides the layer's output.
  size_t prefix_nodes() const { return prefix_nodes_; }
  size_t suffix_nodes() const { return suffix_nodes_; }
  size_t crossing_values() const { return crossing_values_; }

 private:
  struct Functions;
  LayerSplit() = default;

  std::unique_ptr<Functions> functions_;
  size_t prefix_nodes_ = 0;
  size_t suffix_nodes_ = 0;
  size_t crossing_values_ = 0;
};

// For every module path whose output the instrumented `module`'s forward yields: "" when
// LayerSplit::Create can split there, else why not. One inlining of the graph.
std::unordered_map<std::string, std::string> WhereSplits(const torch::jit::Module& module);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_GRAPH_SPLIT_H_
