// Device names of a model's instance groups ("cpu", "cuda:N", "cuda", "auto") resolved
// against what this LibTorch build and machine offer.
#ifndef XAI_CORE_RUNTIME_DEVICES_H_
#define XAI_CORE_RUNTIME_DEVICES_H_

#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

// Resolves `names` to distinct devices, in order of first mention:
//   "cpu"     the CPU
//   "cuda:N"  GPU N; INVALID_ARGUMENT when CUDA is unavailable or N is out of range
//   "cuda"    every visible GPU; INVALID_ARGUMENT when there is none
//   "auto"    every visible GPU when there is one, else the CPU
// An empty list means {"auto"}. Unknown names: INVALID_ARGUMENT quoting the name.
StatusOr<std::vector<c10::Device>> ResolveDevices(const std::vector<std::string>& names);

// Whether `name` has the syntax of a device name (used by config validation, which must
// not depend on the machine it runs on).
bool IsValidDeviceName(const std::string& name);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_DEVICES_H_
