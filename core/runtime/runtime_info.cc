#include "core/runtime/runtime_info.h"

#include <torch/cuda.h>
#include <torch/version.h>

#ifdef XAI_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace xai::core {
namespace {

int GpuCount() {
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

}  // namespace

std::string LibTorchVersion() { return TORCH_VERSION; }

std::vector<std::string> VisibleDevices() {
  std::vector<std::string> out = {"cpu"};
  for (int i = 0; i < GpuCount(); ++i) out.push_back("cuda:" + std::to_string(i));
  return out;
}

std::vector<DeviceMemory> CudaMemory() {
  std::vector<DeviceMemory> out;
#ifdef XAI_WITH_CUDA
  for (int i = 0; i < GpuCount(); ++i) {
    // Index 0 of each statistic is the aggregate over pool kinds (StatType::AGGREGATE, in
    // every LibTorch version, whose namespace moved in 2.x).
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(i);
    out.push_back({"cuda:" + std::to_string(i), stats.allocated_bytes[0].current,
                   stats.reserved_bytes[0].current});
  }
#endif
  return out;
}

}  // namespace xai::core
