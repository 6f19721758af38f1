#include "core/runtime/freezing.h"

#include <ATen/ATen.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <limits>

#include "core/runtime/torch_errors.h"

namespace xai::core {

StatusOr<torch::jit::Module> FreezeForInference(const torch::jit::Module& module) {
  try {
    torch::jit::Module frozen = torch::jit::freeze(module);
#if TORCH_VERSION_MAJOR >= 2
    // LibTorch 2.6's TensorExpr fuser hangs on the second forward of an
    // optimize_for_inference graph on the CPU (resnet18, 2026-11-27): frozen only there.
    return frozen;
#else
    return torch::jit::optimize_for_inference(frozen);
#endif
  } catch (const std::exception& e) {
    return FailedPreconditionError("LibTorch cannot freeze it: " + ExceptionMessage(e));
  }
}

double RelativeDifference(const at::Tensor& got, const at::Tensor& expected) {
  if (got.sizes() != expected.sizes()) return std::numeric_limits<double>::infinity();
  const at::Tensor e = expected.to(at::kFloat);
  const double scale = std::max(1.0, e.abs().max().item<double>());
  return (got.to(at::kFloat) - e).abs().max().item<double>() / scale;
}

}  // namespace xai::core
