// nn.MultiheadAttention's inference fast path, aten::_native_multi_head_attention, has no
// derivative. PyTorch takes it when nothing needs a gradient, so a model traced under
// torch.no_grad() (or with its parameters' requires_grad off) records it, and every
// gradient method then fails on the model ("derivative for
// aten::_native_multi_head_attention is not implemented"). At load, each such node is
// replaced by the slow path's differentiable operations (F.multi_head_attention_forward:
// separate q, k, v projections, q / sqrt(head_dim), softmax(q k^T), times v, the output
// projection), which is what eager PyTorch, and so pytorch-grad-cam and Captum, run when a
// gradient is needed.
#ifndef XAI_CORE_RUNTIME_ATTENTION_REWRITE_H_
#define XAI_CORE_RUNTIME_ATTENTION_REWRITE_H_

#include <torch/csrc/jit/api/module.h>

#include "core/base/status.h"

namespace xai::core {

// Rewrites every aten::_native_multi_head_attention node in every method of `module` and its
// submodules (see above) whose sizes are constants and which has no attention mask, as a
// traced model's are; others stay (a scripted MultiheadAttention decides at run time and
// takes the slow path when a gradient is needed). Call before the first run, clone and
// freeze. Returns how many nodes it replaced; INTERNAL when LibTorch refuses the rewrite.
StatusOr<int> MakeAttentionDifferentiable(torch::jit::Module& module);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_ATTENTION_REWRITE_H_
