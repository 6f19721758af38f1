#include "core/runtime/freezing.h"

#include <ATen/ATen.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/runtime/torch_errors.h"

namespace xai::core {

StatusOr<torch::jit::Module> FreezeForInference(const torch::jit::Module& module, bool optimize) {
  try {
    torch::jit::Module frozen = torch::jit::freeze(module);
#if TORCH_VERSION_MAJOR >= 2
    // LibTorch 2.6's TensorExpr fuser hangs on the second forward of an
    // optimize_for_inference graph on the CPU (resnet18, 2026-11-27): frozen only there.
    (void)optimize;
    return frozen;
#else
    return optimize ? torch::jit::optimize_for_inference(frozen) : frozen;
#endif
  } catch (const std::exception& e) {
    return FailedPreconditionError("LibTorch cannot freeze it: " + ExceptionMessage(e));
  }
}

StatusOr<torch::jit::Module> FreezeFastest(const torch::jit::Module& module,
                                           const at::Tensor& probe, bool* optimized) {
  *optimized = false;
  XAI_ASSIGN_OR_RETURN(torch::jit::Module frozen, FreezeForInference(module, false));
#if TORCH_VERSION_MAJOR >= 2
  (void)probe;
  return frozen;
#else
  StatusOr<torch::jit::Module> fast = FreezeForInference(module, true);
  if (!fast.ok()) return frozen;
  try {
    c10::InferenceMode guard;
    torch::jit::Module* forms[] = {&frozen, &*fast};
    for (torch::jit::Module* form : forms) {
      for (int i = 0; i < 2; ++i) form->forward({probe});
    }
    using Clock = std::chrono::steady_clock;
    Clock::duration best[2] = {Clock::duration::max(), Clock::duration::max()};
    for (int round = 0; round < 3; ++round) {
      for (int f = 0; f < 2; ++f) {
        const Clock::time_point start = Clock::now();
        forms[f]->forward({probe});
        best[f] = std::min(best[f], Clock::now() - start);
      }
    }
    if (best[1] < best[0]) {
      *optimized = true;
      return fast;
    }
  } catch (const std::exception&) {
    // The optimised copy fails where the frozen one runs: keep the frozen one.
  }
  return frozen;
#endif
}

double RelativeDifference(const at::Tensor& got, const at::Tensor& expected) {
  if (got.sizes() != expected.sizes()) return std::numeric_limits<double>::infinity();
  const at::Tensor e = expected.to(at::kFloat);
  const double scale = std::max(1.0, e.abs().max().item<double>());
  return (got.to(at::kFloat) - e).abs().max().item<double>() / scale;
}

}  // namespace xai::core
