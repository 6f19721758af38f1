// Frozen copies of TorchScript modules for forwards that need no gradients on the CPU.
#ifndef XAI_CORE_RUNTIME_FREEZING_H_
#define XAI_CORE_RUNTIME_FREEZING_H_

#include <torch/csrc/jit/api/module.h>

#include "core/base/status.h"

namespace xai::core {

// torch.jit.freeze of `module` (in eval mode): weights and attributes inlined as constants,
// batch norms folded into their convolutions; then, on LibTorch 1.x,
// torch.jit.optimize_for_inference (oneDNN convolutions; not on LibTorch 2.x, whose TensorExpr
// fuser hangs on such a graph on the CPU). The copy's float rounding differs from the
// module's: compare before use. Make it before `module` first runs where `module` is to be
// instrumented afterwards (executors keep the graphs they saw first). FAILED_PRECONDITION
// with LibTorch's reason when it cannot.
StatusOr<torch::jit::Module> FreezeForInference(const torch::jit::Module& module);

// The largest difference between `got` and `expected`, relative to the largest magnitude of
// `expected` (at least 1); infinity where their shapes differ.
double RelativeDifference(const at::Tensor& got, const at::Tensor& expected);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_FREEZING_H_
