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

// The BLAS library LibTorch's matrix products (linear layers, attention, some
// convolutions' fallbacks) run on, as this process's dynamic linker resolved it.
struct BlasInfo {
  std::string library;      // the file that defines sgemm_, symlinks resolved; "" if none
  std::string description;  // "OpenBLAS 0.3.21 ...", "the reference BLAS (netlib)", ...
  // Debian's and Ubuntu's netlib BLAS (the libblas3 package): correct, but 10 to 25 times
  // slower on a transformer's forward than OpenBLAS; the fix is libopenblas0-openmp.
  bool reference = false;
};
BlasInfo Blas();
// Whether `library` (a resolved path) is the netlib reference BLAS of Debian's alternatives.
bool IsReferenceBlas(const std::string& library);

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
