#include "core/runtime/execution.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/version.h>

// LibTorch 2.4 replaced autocast's CUDA-only setters with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define XAI_AUTOCAST_PER_DEVICE_TYPE 1
#endif

namespace xai::core {

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFloat16:
      return "FP16";
    case Precision::kBFloat16:
      return "BF16";
    case Precision::kFloat32:
      break;
  }
  return "FP32";
}

std::optional<c10::Stream> InstanceStream(c10::Device device) {
  if (!device.is_cuda()) return std::nullopt;
  c10::impl::VirtualGuardImpl guard(device.type());
  return guard.getStreamFromGlobalPool(device, /*isHighPriority=*/false);
}

ExecutionScope::ExecutionScope(c10::Device device, const std::optional<c10::Stream>& stream,
                               Precision precision)
    : autocast_(device.is_cuda() && precision != Precision::kFloat32) {
  if (stream) stream_guard_.reset_stream(*stream);
  if (!autocast_) return;
  const at::ScalarType dtype = precision == Precision::kFloat16 ? at::kHalf : at::kBFloat16;
#ifdef XAI_AUTOCAST_PER_DEVICE_TYPE
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  was_enabled_ = at::autocast::is_enabled();
  previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(true);
#endif
  at::autocast::increment_nesting();
}

ExecutionScope::~ExecutionScope() {
  if (!autocast_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef XAI_AUTOCAST_PER_DEVICE_TYPE
  at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
#else
  at::autocast::set_enabled(was_enabled_);
  at::autocast::set_autocast_gpu_dtype(previous_dtype_);
#endif
}

namespace {

// The TF32 switches by their LibTorch 1.x/2.x names, where this LibTorch still has them
// (newer releases add a per-backend precision API beside them).
template <typename Context>
auto DisableTf32(Context& context, int) -> decltype(context.setAllowTF32CuDNN(false), bool()) {
  context.setAllowTF32CuDNN(false);
  context.setAllowTF32CuBLAS(false);
  return true;
}
template <typename Context>
bool DisableTf32(Context&, long) {
  return false;
}

}  // namespace

bool UseExactFloat32OnCuda() { return DisableTf32(at::globalContext(), 0); }

at::Tensor ToDevice(const at::Tensor& cpu, c10::Device device) {
  if (cpu.device() == device) return cpu;
  if (device.is_cuda() && cpu.is_cpu()) {
    return cpu.pin_memory().to(device, /*non_blocking=*/true);
  }
  return cpu.to(device);
}

}  // namespace xai::core
