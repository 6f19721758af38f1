#include "core/repository/version_states.h"

namespace xai::core {
namespace {

template <typename T, typename Show>
std::string Join(const std::vector<T>& parts, const Show& show) {
  std::string out;
  for (const T& part : parts) out += (out.empty() ? "" : ", ") + show(part);
  return out;
}

}  // namespace

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
  return NotFoundError(
      "model \"" + std::string(name) + "\" not found; the repository has: " +
      (known.empty() ? "no model" : Join(known, [](const std::string& s) { return s; })));
}

Status NoReadyVersion(std::string_view name,
                      const std::vector<std::pair<int64_t, std::string>>& states) {
  std::string listed;
  for (const auto& [version, state] : states) {
    listed += (listed.empty() ? "v" : "; v") + std::to_string(version) + " " + state;
  }
  return UnavailableError("model \"" + std::string(name) + "\" has no ready version: " + listed);
}

Status NoSuchVersion(std::string_view name, int64_t version, const std::vector<int64_t>& known) {
  return NotFoundError("model \"" + std::string(name) + "\" has no version " +
                       std::to_string(version) +
                       "; versions: " + Join(known, [](int64_t v) { return std::to_string(v); }));
}

Status VersionNotReady(std::string_view name, int64_t version, ModelState state,
                       const std::string& reason) {
  return UnavailableError("model \"" + std::string(name) + "\" v" + std::to_string(version) +
                          " is " + ModelStateName(state) + (reason.empty() ? "" : ": " + reason));
}

}  // namespace xai::core
