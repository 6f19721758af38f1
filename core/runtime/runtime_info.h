// What the engine runs on, for build-info and device-memory metrics: plain types, no
// LibTorch in this header, so adapters include it cheaply.
#ifndef XAI_CORE_RUNTIME_RUNTIME_INFO_H_
#define XAI_CORE_RUNTIME_RUNTIME_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace xai::core {

// The LibTorch this binary was built against, e.g. "1.13.0".
std::string LibTorchVersion();

// The devices this process can run models on: "cpu", then "cuda:0", "cuda:1", ...
std::vector<std::string> VisibleDevices();

struct DeviceMemory {
  std::string device;           // "cuda:0"
  int64_t allocated_bytes = 0;  // in tensors now (LibTorch's caching allocator)
  int64_t reserved_bytes = 0;   // held by the allocator now, allocated or cached
};

// Device memory of every visible GPU, as LibTorch's caching allocator counts it; empty
// on a build without CUDA or a machine without a GPU.
std::vector<DeviceMemory> CudaMemory();

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_RUNTIME_INFO_H_
