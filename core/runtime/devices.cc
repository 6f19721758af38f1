#include "core/runtime/devices.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cctype>

namespace xai::core {
namespace {

bool ParseCudaIndex(const std::string& name, int* index) {
  constexpr std::string_view kPrefix = "cuda:";
  if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) {
    return false;
  }
  const std::string digits = name.substr(kPrefix.size());
  if (digits.size() > 4 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  *index = std::stoi(digits);
  return true;
}

void AddUnique(std::vector<c10::Device>& out, c10::Device device) {
  if (std::find(out.begin(), out.end(), device) == out.end()) out.push_back(device);
}

}  // namespace

bool IsValidDeviceName(const std::string& name) {
  int index = 0;
  return name == "cpu" || name == "cuda" || name == "auto" || ParseCudaIndex(name, &index);
}

StatusOr<std::vector<c10::Device>> ResolveDevices(const std::vector<std::string>& names) {
  const std::vector<std::string> effective =
      names.empty() ? std::vector<std::string>{"auto"} : names;
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  std::vector<c10::Device> out;
  for (const std::string& name : effective) {
    int index = 0;
    if (name == "cpu") {
      AddUnique(out, c10::Device(c10::kCPU));
    } else if (name == "cuda" || name == "auto") {
      if (gpus == 0 && name == "cuda") {
        return InvalidArgumentError("device \"cuda\" requested but LibTorch sees no CUDA GPU");
      }
      if (gpus == 0) AddUnique(out, c10::Device(c10::kCPU));
      for (int i = 0; i < gpus; ++i) {
        AddUnique(out, c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      }
    } else if (ParseCudaIndex(name, &index)) {
      if (index >= gpus) {
        return InvalidArgumentError("device \"" + name + "\" requested but LibTorch sees " +
                                    std::to_string(gpus) + " CUDA GPU(s)");
      }
      AddUnique(out, c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index)));
    } else {
      return InvalidArgumentError("unknown device \"" + name +
                                  "\"; accepted: cpu, cuda, cuda:N, auto");
    }
  }
  return out;
}

}  // namespace xai::core
