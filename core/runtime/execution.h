// Where and how an instance's work runs: its own CUDA stream, reduced precision under
// autocast, and inputs copied to the device through pinned memory.
#ifndef XAI_CORE_RUNTIME_EXECUTION_H_
#define XAI_CORE_RUNTIME_EXECUTION_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>

#include <optional>

namespace xai::core {

// The numeric precision of an instance's forward.
enum class Precision { kFloat32, kFloat16, kBFloat16 };
const char* PrecisionName(Precision precision);  // "FP32", "FP16", "BF16"

// A stream of its own for an instance on `device`: a CUDA stream from LibTorch's pool, so
// that instances on one GPU overlap; none (the default stream) for the CPU.
std::optional<c10::Stream> InstanceStream(c10::Device device);

// While alive, work on the instance's device goes to `stream` (when set) and, on CUDA with
// a reduced `precision`, runs under autocast (matmuls and convolutions in float16 or
// bfloat16; outputs the CAM math reads are cast back to float32 by the caller). CPU
// instances always run float32. Scopes nest; the autocast cache is cleared at the last.
class ExecutionScope {
 public:
  ExecutionScope(c10::Device device, const std::optional<c10::Stream>& stream, Precision precision);
  ~ExecutionScope();
  ExecutionScope(const ExecutionScope&) = delete;
  ExecutionScope& operator=(const ExecutionScope&) = delete;

 private:
  c10::OptionalStreamGuard stream_guard_;
  bool autocast_ = false;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

// Makes FP32 on CUDA mean IEEE float32, as on the CPU: TF32 off for cuDNN convolutions
// (on by default in LibTorch) and cuBLAS matrix products, so that a CUDA instance's maps
// equal a CPU instance's within float32 rounding. Process-wide; reduced precisions run
// under autocast and are unaffected. Returns false when this LibTorch has no such switch.
bool UseExactFloat32OnCuda();

// `cpu` on `device`: the tensor itself for the CPU; for CUDA, copied from pinned host
// memory without blocking the host (on the current stream, so inside an ExecutionScope).
at::Tensor ToDevice(const at::Tensor& cpu, c10::Device device);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_EXECUTION_H_
