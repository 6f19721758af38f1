// The model repository: a directory laid out as
//   <root>/<model>/config.pbtxt         xai.v1.ModelConfig, protobuf text format
//   <root>/<model>/labels.txt           optional, one label per line
//   <root>/<model>/<version>/model.pt   TorchScript; version = 1, 2, ...
// Every version found is loaded; a version that fails is kept as FAILED with its reason
// and the others serve.
//
// Thread safety: every method may be called from any thread, also while LoadAll runs.
#ifndef XAI_CORE_MODEL_REPOSITORY_H_
#define XAI_CORE_MODEL_REPOSITORY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xai::core {

struct ServableModel;

enum class ModelState { kLoading, kReady, kFailed, kUnloaded };

// "LOADING", "READY", "FAILED", "UNLOADED"
const char* ModelStateName(ModelState state);

struct ModelVersionStatus {
  std::string name;
  int64_t version = 0;  // 0 when the model failed before any version was found
  ModelState state = ModelState::kLoading;
  std::string reason;                // why, when not READY
  std::vector<std::string> devices;  // where its instances run, when READY
};

struct ModelRepositoryOptions {
  std::string root;
  // How long a request may wait in a model version's queue at most.
  std::chrono::milliseconds max_queue_time{30000};
  // Requests a model version's scheduler queues when its config sets no max_queue_size.
  int queue_capacity = 256;
};

class ModelRepository {
 public:
  // NOT_FOUND when `options.root` is not a readable directory.
  static StatusOr<std::unique_ptr<ModelRepository>> Create(ModelRepositoryOptions options);
  ~ModelRepository();

  // Scans the root, lists every version found as LOADING, then loads them one by one.
  // Returns when every version is READY or FAILED. Call once.
  void LoadAll();

  // Called (on the loading thread) after every state change; set before LoadAll.
  void SetStateListener(std::function<void()> listener);

  // Every version known, sorted by name then version.
  std::vector<ModelVersionStatus> List() const;

  // The version to serve. `version` 0: the newest READY version.
  // INVALID_ARGUMENT: bad name (empty, path characters) or version < 0.
  // NOT_FOUND: no such model or version. UNAVAILABLE: known but not READY (with reason).
  StatusOr<std::shared_ptr<const ServableModel>> Get(std::string_view name, int64_t version) const;

  // Every READY version, sorted by name then version.
  std::vector<std::shared_ptr<const ServableModel>> ReadyModels() const;

  // Shuts every READY version's scheduler down (see BatchScheduler::Shutdown); a version
  // loading meanwhile starts shut down, and LoadAll loads no further one (they become
  // UNLOADED). Idempotent.
  void ShutdownSchedulers();

  const std::string& root() const { return options_.root; }

 private:
  struct Entry {
    ModelState state = ModelState::kLoading;
    std::string reason;
    std::shared_ptr<const ServableModel> model;
  };
  explicit ModelRepository(ModelRepositoryOptions options) : options_(std::move(options)) {}
  void SetState(const std::string& name, int64_t version, Entry entry);

  const ModelRepositoryOptions options_;
  std::function<void()> listener_;
  mutable std::mutex mu_;
  bool schedulers_stopped_ = false;                         // guarded by mu_
  std::map<std::string, std::map<int64_t, Entry>> models_;  // guarded by mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_MODEL_REPOSITORY_H_
