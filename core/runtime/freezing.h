// Frozen copies of TorchScript modules for forwards that need no gradients on the CPU.
#ifndef XAI_CORE_RUNTIME_FREEZING_H_
#define XAI_CORE_RUNTIME_FREEZING_H_

#include <torch/csrc/jit/api/module.h>

#include "core/base/status.h"

namespace xai::core {

// torch.jit.freeze of `module` (in eval mode): weights and attributes inlined as constants,
// batch norms folded into their convolutions; then, with `optimize` and on LibTorch 1.x only,
// torch.jit.optimize_for_inference (oneDNN convolutions; not on LibTorch 2.x, whose TensorExpr
// fuser hangs on such a graph on the CPU). The copy's float rounding differs from the
// module's: compare before use. Make it before `module` first runs where `module` is to be
// instrumented afterwards (executors keep the graphs they saw first). FAILED_PRECONDITION
// with LibTorch's reason when it cannot.
StatusOr<torch::jit::Module> FreezeForInference(const torch::jit::Module& module, bool optimize);

// The faster frozen copy of `module` on `probe`: frozen only, or also optimised for
// inference (LibTorch 1.x), each timed over a few forwards after two to warm up, in turn.
// oneDNN's convolutions win on resnet18 (0.73x the model's forward against 0.97x, one
// thread) and lose on depthwise convolutions (efficientnet_b0: 0.94x against 0.76x).
// `optimized` says which was kept. Errors as FreezeForInference; an optimised copy that
// fails or throws is not kept.
StatusOr<torch::jit::Module> FreezeFastest(const torch::jit::Module& module,
                                           const at::Tensor& probe, bool* optimized);

// The largest difference between `got` and `expected`, relative to the largest magnitude of
// `expected` (at least 1); infinity where their shapes differ.
double RelativeDifference(const at::Tensor& got, const at::Tensor& expected);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_FREEZING_H_
