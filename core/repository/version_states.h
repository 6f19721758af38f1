// The version lifecycle, as a state machine of its own: per model and version, LOADING,
// READY (with what serves), FAILED or UNLOADED (with a reason), and every transition the
// repository's operations make, each atomic under one lock. ModelRepository does the slow
// parts (scanning, loading, draining) outside the lock and records their outcomes here.
// A template over what a READY version serves, so that its tests run without models
// (tests/core/repository/version_states_test.cc); the repository's is
// std::shared_ptr<ModelVersion>.
//
// The rules:
// - a load's outcome is recorded only while the version is still LOADING: an Unload or a
//   removal meanwhile wins, and the loaded copy never serves;
// - once stopped (shutting down), Load and Reload begin nothing and no copy is swapped in;
// - a version leaves READY only by Unload, removal from disk or a replacement, each of which
//   hands back what served, for the caller to drain outside the lock.
//
// Thread safety: every method may be called from any thread.
#ifndef XAI_CORE_REPOSITORY_VERSION_STATES_H_
#define XAI_CORE_REPOSITORY_VERSION_STATES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

enum class ModelState { kLoading, kReady, kFailed, kUnloaded };

// "LOADING", "READY", "FAILED", "UNLOADED"
const char* ModelStateName(ModelState state);

// The lookups' messages (version_states.cc): short whatever the repository holds.
Status ModelNotFound(std::string_view name, const std::vector<std::string>& known);
// `states`: "v1 FAILED (its reason)", one per version.
Status NoReadyVersion(std::string_view name, const std::vector<std::string>& states);
Status NoSuchVersion(std::string_view name, int64_t version, const std::vector<int64_t>& known);
Status VersionNotReady(std::string_view name, int64_t version, ModelState state,
                       const std::string& reason);

template <typename Serving>
class VersionStates {
 public:
  struct Row {
    std::string name;
    int64_t version = 0;
    ModelState state = ModelState::kLoading;
    std::string reason;
    Serving serving{};  // when READY
  };

  // LoadAll's scan: every version listed LOADING.
  void ListLoading(const std::vector<std::pair<std::string, int64_t>>& versions) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, version] : versions) models_[name][version] = Entry{};
  }

  // Load: of model `name`'s versions on disk, those neither READY (it keeps serving) nor
  // LOADING (another load has it) become LOADING and are returned, to be loaded.
  // UNAVAILABLE once stopped.
  StatusOr<std::vector<int64_t>> BeginLoad(const std::string& name,
                                           const std::vector<int64_t>& on_disk) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return UnavailableError("the server is shutting down");
    std::vector<int64_t> begun;
    for (int64_t version : on_disk) {
      auto& versions = models_[name];
      const auto known = versions.find(version);
      if (known != versions.end() && (known->second.state == ModelState::kReady ||
                                      known->second.state == ModelState::kLoading)) {
        continue;
      }
      versions[version] = Entry{};
      begun.push_back(version);
    }
    return begun;
  }

  struct ReloadPlan {
    std::vector<int64_t> fresh;    // now LOADING: load them as Load does
    std::vector<int64_t> replace;  // READY: load a new copy beside it, then Replace
    std::vector<Serving> removed;  // gone from disk, now UNLOADED: drain what served
  };
  // Reload: model `name`'s versions on disk are loaded anew (READY ones beside the serving
  // copy, the others as Load does; LOADING ones are left to their load), and the known
  // versions no longer on disk become UNLOADED ("removed from the repository").
  // UNAVAILABLE once stopped.
  StatusOr<ReloadPlan> BeginReload(const std::string& name, const std::vector<int64_t>& on_disk) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return UnavailableError("the server is shutting down");
    ReloadPlan plan;
    auto& versions = models_[name];
    for (int64_t version : on_disk) {
      const auto known = versions.find(version);
      if (known != versions.end() && known->second.state == ModelState::kLoading) continue;
      if (known != versions.end() && known->second.state == ModelState::kReady) {
        plan.replace.push_back(version);
      } else {
        versions[version] = Entry{};
        plan.fresh.push_back(version);
      }
    }
    const std::set<int64_t> kept(on_disk.begin(), on_disk.end());
    for (auto& [version, entry] : versions) {
      if (kept.count(version) || entry.state == ModelState::kLoading) continue;
      if (entry.serving) plan.removed.push_back(std::move(entry.serving));
      entry = Entry{ModelState::kUnloaded, "removed from the repository", Serving{}};
    }
    return plan;
  }

  // A load's outcome (READY with what serves, FAILED or UNLOADED with the reason),
  // recorded only while the version is still LOADING: false when it no longer is (unloaded
  // meanwhile: `serving` is not kept). `stopped`, when set, tells whether the repository
  // was stopped when the outcome was recorded.
  bool Finish(const std::string& name, int64_t version, ModelState state, std::string reason,
              Serving serving = Serving{}, bool* stopped = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped != nullptr) *stopped = stopped_;
    Entry& entry = models_[name][version];
    if (entry.state != ModelState::kLoading) return false;
    entry = Entry{state, std::move(reason), std::move(serving)};
    return true;
  }

  // Every version of `name` UNLOADED ("unloaded"); what served, to be drained. NOT_FOUND
  // when the model is not known.
  StatusOr<std::vector<Serving>> Unload(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto model = models_.find(name);
    if (model == models_.end()) {
      return NotFoundError("model \"" + name + "\" is not in the repository");
    }
    std::vector<Serving> retired;
    for (auto& [version, entry] : model->second) {
      if (entry.serving) retired.push_back(std::move(entry.serving));
      entry = Entry{ModelState::kUnloaded, "unloaded", Serving{}};
    }
    return retired;
  }

  // A new copy of a READY version serves in its place, only while it is READY and the
  // repository is not stopped (an Unload or a shutdown meanwhile wins): the previous copy,
  // to be drained; nullopt when refused (the caller drains the new copy).
  std::optional<Serving> Replace(const std::string& name, int64_t version, Serving fresh) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = models_[name][version];
    if (entry.state != ModelState::kReady || stopped_) return std::nullopt;
    Serving previous = std::move(entry.serving);
    entry = Entry{ModelState::kReady, "", std::move(fresh)};
    return previous;
  }

  // A reload of a READY version failed: it keeps serving, and its reason says so.
  void NoteReloadFailure(const std::string& name, int64_t version, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = models_[name][version];
    if (entry.state == ModelState::kReady) {
      entry.reason = "serving the previous load; reloading failed: " + reason;
    }
  }

  // Shutting down: no load begins or is swapped in afterwards; what serves now, to drain.
  std::vector<Serving> Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    return Ready();
  }
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  bool Knows(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    return models_.count(name) > 0;
  }
  std::vector<std::string> Names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, versions] : models_) names.push_back(name);
    return names;
  }

  // Every version, sorted by name then version.
  std::vector<Row> List() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Row> rows;
    for (const auto& [name, versions] : models_) {
      for (const auto& [version, entry] : versions) {
        rows.push_back({name, version, entry.state, entry.reason, entry.serving});
      }
    }
    return rows;
  }

  // What every READY version serves, sorted by name then version.
  std::vector<Serving> Ready() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Serving> out;
    for (const auto& [name, versions] : models_) {
      for (const auto& [version, entry] : versions) {
        if (entry.state == ModelState::kReady) out.push_back(entry.serving);
      }
    }
    return out;
  }

  // What serves `name` at `version` (0: the newest READY one). NOT_FOUND: no such model or
  // version; UNAVAILABLE: known but not READY, with the states and reasons.
  StatusOr<Serving> Find(std::string_view name, int64_t version) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto model = models_.find(std::string(name));
    if (model == models_.end()) {
      // The first names only: a message must stay short whatever the repository holds.
      constexpr size_t kNamesShown = 20;
      std::vector<std::string> names;
      for (const auto& item : models_) {
        if (names.size() == kNamesShown) {
          names.push_back("... (" + std::to_string(models_.size()) + " models)");
          break;
        }
        names.push_back(item.first);
      }
      return ModelNotFound(name, names);
    }
    const auto& versions = model->second;
    if (version == 0) {
      for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
        if (it->second.state == ModelState::kReady) return it->second.serving;
      }
      std::vector<std::string> states;
      for (const auto& [v, entry] : versions) {
        states.push_back("v" + std::to_string(v) + " " + ModelStateName(entry.state) +
                         (entry.reason.empty() ? "" : " (" + entry.reason + ")"));
      }
      return NoReadyVersion(name, states);
    }
    const auto entry = versions.find(version);
    if (entry == versions.end()) {
      std::vector<int64_t> known;
      for (const auto& item : versions) known.push_back(item.first);
      return NoSuchVersion(name, version, known);
    }
    if (entry->second.state != ModelState::kReady) {
      return VersionNotReady(name, version, entry->second.state, entry->second.reason);
    }
    return entry->second.serving;
  }

 private:
  struct Entry {
    ModelState state = ModelState::kLoading;
    std::string reason;
    Serving serving{};
  };

  mutable std::mutex mu_;
  bool stopped_ = false;                                    // guarded by mu_
  std::map<std::string, std::map<int64_t, Entry>> models_;  // guarded by mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_VERSION_STATES_H_
