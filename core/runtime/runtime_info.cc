#include "core/runtime/runtime_info.h"

#include <dlfcn.h>
#include <stdlib.h>
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

// Debian's and Ubuntu's alternatives put the netlib reference BLAS (libblas3) under
// .../blas/libblas.so.3, OpenBLAS under .../openblas-<variant>/libblas.so.3.
bool IsReferenceBlas(const std::string& library) {
  return library.find("/blas/libblas.so") != std::string::npos;
}

namespace {

BlasInfo FindBlas() {
  BlasInfo info;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info where{};
  if (sgemm == nullptr || dladdr(sgemm, &where) == 0 || where.dli_fname == nullptr) {
    info.description = "no sgemm_ exported (a BLAS linked into LibTorch, such as MKL)";
    return info;
  }
  info.library = where.dli_fname;
  if (char* real = realpath(where.dli_fname, nullptr)) {
    info.library = real;
    free(real);
  }
  // OpenBLAS names its version and the kernel it picked for this CPU. Asked of the library
  // that defines sgemm_ and its dependencies only (Debian's OpenBLAS libblas.so.3 forwards
  // to libopenblas.so.0), not of the whole process: the liblapack.so.3 alternative may be
  // OpenBLAS's beside netlib's libblas.so.3.
  using Config = char* (*)();
  if (void* handle = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
    auto config = reinterpret_cast<Config>(dlsym(handle, "openblas_get_config"));
    if (config != nullptr) info.description = config();
    dlclose(handle);
    if (!info.description.empty()) return info;
  }
  info.reference = IsReferenceBlas(info.library);
  info.description = info.reference ? "the reference BLAS (netlib)" : info.library;
  return info;
}

}  // namespace

// Looked up once: the start log, the metrics and the bench all ask.
BlasInfo Blas() {
  static const BlasInfo blas = FindBlas();
  return blas;
}

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
