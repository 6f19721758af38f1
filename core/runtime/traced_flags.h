// Tracing records the backend flags of the tracing process as constants: every traced
// convolution is an aten::_convolution node whose last arguments say whether cuDNN may
// use TF32 (True by default in PyTorch), run deterministic algorithms, or run at all.
// Those constants override LibTorch's global switches when the model runs here.
#ifndef XAI_CORE_RUNTIME_TRACED_FLAGS_H_
#define XAI_CORE_RUNTIME_TRACED_FLAGS_H_

#include <torch/csrc/jit/api/module.h>

#include "core/base/status.h"

namespace xai::core {

// Sets allow_tf32 to false in every aten::_convolution node of every method of `module`
// and its submodules, so that a traced model's float32 convolutions on CUDA are IEEE
// float32 as the global switches ask (see UseExactFloat32OnCuda). Scripted models call
// aten::conv2d, which reads the global switches, and have no such node. Call before the
// first run (executors cache optimised graphs). Returns how many nodes it changed;
// INTERNAL when LibTorch refuses.
StatusOr<int> ClearTracedTf32(torch::jit::Module& module);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_TRACED_FLAGS_H_
