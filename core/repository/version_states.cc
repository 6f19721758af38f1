#include "core/repository/version_states.h"

#include "core/base/strings.h"

namespace xai::core {

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "LOADING";
    case ModelState::kReady:
      return "READY";
    case ModelState::kFailed:
      return "FAILED";
    case ModelState::kUnloaded:
      return "UNLOADED";
  }
  return "UNKNOWN";
}

Status ModelNotFound(std::string_view name, const std::vector<std::string>& known) {
  return NotFoundError("model \"" + std::string(name) + "\" not found; the repository has: " +
                       (known.empty() ? "no model" : Join(known, ", ")));
}

Status NoReadyVersion(std::string_view name, const std::vector<std::string>& states) {
  return UnavailableError("model \"" + std::string(name) +
                          "\" has no ready version: " + Join(states, "; "));
}

Status NoSuchVersion(std::string_view name, int64_t version, const std::vector<int64_t>& known) {
  std::vector<std::string> numbers;
  for (int64_t v : known) numbers.push_back(std::to_string(v));
  return NotFoundError("model \"" + std::string(name) + "\" has no version " +
                       std::to_string(version) + "; versions: " + Join(numbers, ", "));
}

Status VersionNotReady(std::string_view name, int64_t version, ModelState state,
                       const std::string& reason) {
  return UnavailableError("model \"" + std::string(name) + "\" v" + std::to_string(version) +
                          " is " + ModelStateName(state) + (reason.empty() ? "" : ": " + reason));
}

}  // namespace xai::core
