// Capturing the activations of chosen layers of a TorchScript model, and cutting the
// autograd graph at the earliest of them, without Python hooks.
//
// At load, InstrumentForCapture rewrites the forward graph of every submodule type that
// returns one tensor, so that it ends with
//
//   out = self._xai_replace ? self._xai_replacement : out
//   out = self._xai_cut ? out.detach().requires_grad_(true) : out
//   if self._xai_capture: self._xai_activation = self._xai_copy ? out.clone() : out
//   return out
//
// where the six attributes live on each module instance. Graphs are per type, and a
// scripted model shares one type among submodules of the same class and configuration
// (resnet's BasicBlocks), but the switches are per instance: capturing or cutting at
// "layer3.2" leaves "layer3.0" and "layer3.1" untouched. With every parameter's
// requires_grad off, autograd then records only what follows the cut, and a gradient of
// the output reaches the captured layers and goes no further.
//
// Thread safety: a CaptureScope mutates its module's attributes; use it only on an
// instance held exclusively (a ModelPool::Handle).
#ifndef XAI_CORE_RUNTIME_LAYER_CAPTURE_H_
#define XAI_CORE_RUNTIME_LAYER_CAPTURE_H_

#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

// Rewrites `module`'s submodule types as described above. Call once, before the module
// (or any clone of it) runs for the first time: executors cache optimised graphs at the
// first run. Clones made afterwards inherit the rewrite. INTERNAL if LibTorch refuses.
Status InstrumentForCapture(torch::jit::Module& module);

// The submodule at `path` ("layer4.1"), or NOT_FOUND.
StatusOr<torch::jit::Module> FindSubmodule(const torch::jit::Module& module,
                                           const std::string& path);

// Whether `module` has the capture switches (it was instrumented and returns one tensor).
bool HasCaptureSwitches(const torch::jit::Module& module);

// Switches capture on for `layers` and the cut on for `layers[cut]` for the lifetime of
// the scope, storing copies of the outputs when `copy` (without autograd, which would
// otherwise catch an in-place change of a stored output by the rest of the network); the destructor
// switches everything off again and drops stored activations, also when the forward threw.
class CaptureScope {
 public:
  static constexpr size_t kNoCut = static_cast<size_t>(-1);

  // Precondition: every layer HasCaptureSwitches. `cut`: an index into `layers`, or kNoCut.
  CaptureScope(std::vector<torch::jit::Module> layers, size_t cut, bool copy = false);
  ~CaptureScope();
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;

  // The activation each layer produced in the last forward (undefined if it did not run).
  std::vector<at::Tensor> Activations() const;

 private:
  std::vector<torch::jit::Module> layers_;
};

// Replaces the output of `layer` (which HasCaptureSwitches) by `replacement` at every call
// of it for the lifetime of the scope, as a forward hook returning a tensor does in PyTorch
// (the layer's own computation still runs); the destructor switches it off again, also when
// the forward threw. ABLATION_CAM's full forwards where the graph does not split.
class ReplaceScope {
 public:
  ReplaceScope(torch::jit::Module layer, const at::Tensor& replacement);
  ~ReplaceScope();
  ReplaceScope(const ReplaceScope&) = delete;
  ReplaceScope& operator=(const ReplaceScope&) = delete;

 private:
  torch::jit::Module layer_;
};

struct CapturedForward {
  at::Tensor output;                    // the model's output, in the autograd graph
  std::vector<at::Tensor> activations;  // one per layer, each requiring grad (with gradients)
};

// One forward of `module` on `input` in grad mode with the layers at `paths` captured and
// the cut at paths[cut] (see CaptureScope). NOT_FOUND for a path that is not a submodule;
// INTERNAL when the output is not [batch, classes] logits (checked first: a model that
// misbehaves is the model's fault, whatever ran); INVALID_ARGUMENT when a layer did not
// run or its output does not reach the output. LibTorch's exceptions propagate.
// With `gradients` false the forward runs without autograd (cheaper: for methods that read
// activations only), and a layer is only checked to have run; its activation is then a
// copy made as the layer returned, whatever the rest of the network did to it in place.
StatusOr<CapturedForward> RunCaptured(torch::jit::Module& module, const at::Tensor& input,
                                      const std::vector<std::string>& paths, size_t cut,
                                      int64_t classes, bool gradients = true);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_LAYER_CAPTURE_H_
