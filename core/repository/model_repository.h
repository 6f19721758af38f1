// The model repository: a directory laid out as
//   <root>/<model>/config.pbtxt         xai.v1.ModelConfig, protobuf text format
//   <root>/<model>/labels.txt           optional, one label per line
//   <root>/<model>/<version>/model.pt   TorchScript; version = 1, 2, ...
// Every version found is loaded; a version that fails is kept as FAILED with its reason
// and the others serve.
//
// Thread safety: every method may be called from any thread, also while LoadAll runs.
#ifndef XAI_CORE_REPOSITORY_MODEL_REPOSITORY_H_
#define XAI_CORE_REPOSITORY_MODEL_REPOSITORY_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/repository/version_states.h"

namespace xai::core {

class ModelVersion;
struct PendingVersion;  // a version found by a scan, to be loaded (version_loader.h)
struct ServableModel;

struct ModelVersionStatus {
  std::string name;
  int64_t version = 0;  // 0 when the model failed before any version was found
  ModelState state = ModelState::kLoading;
  std::string reason;                // why, when not READY
  std::vector<std::string> devices;  // where its instances run, when READY
  // When READY, read without locking its queue or pool (for metrics scrapes):
  int queued = 0;          // requests waiting for an instance
  int instances = 0;       // model instances
  int busy_instances = 0;  // instances running a batch now
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

  // Called after every state change, on the thread that made it (LoadAll's, or the
  // caller of Load or Unload): must be thread safe. Set before LoadAll.
  void SetStateListener(std::function<void()> listener);

  // Every version known, sorted by name then version.
  std::vector<ModelVersionStatus> List() const;

  // The version to serve, with its scheduler. `version` 0: the newest READY version.
  // INVALID_ARGUMENT: bad name (empty, path characters) or version < 0.
  // NOT_FOUND: no such model or version. UNAVAILABLE: known but not READY (with reason).
  // A caller holds the result only while it queues a request: the repository, not the
  // caller, is meant to release a version (see ModelVersion).
  StatusOr<std::shared_ptr<ModelVersion>> GetVersion(std::string_view name, int64_t version) const;
  // GetVersion's model.
  StatusOr<std::shared_ptr<const ServableModel>> Get(std::string_view name, int64_t version) const;

  // Every READY version, sorted by name then version.
  std::vector<std::shared_ptr<ModelVersion>> ReadyVersions() const;
  std::vector<std::shared_ptr<const ServableModel>> ReadyModels() const;

  // Loads the versions of model `name` found under the root that are not READY, as
  // LoadAll does (listed LOADING meanwhile); READY versions keep serving. Blocks while it
  // loads: call it from a lifecycle thread, never from a request's. OK when the model has
  // a READY version afterwards; else INVALID_ARGUMENT (bad name), NOT_FOUND (no such
  // directory), UNAVAILABLE (shutting down) or the reason its newest version failed.
  Status Load(const std::string& name);

  // Takes every version of model `name` out of service (UNLOADED, "unloaded": new
  // requests get UNAVAILABLE), then drains each (every request already queued is run and
  // answered, none dropped) on the calling thread, which must not be one of the model's
  // workers, and drops the repository's reference. NOT_FOUND when the repository does not
  // know the model. A version still loading is not served when its load ends.
  Status Unload(const std::string& name);

  // Applies what is on disk for model `name` without failing a request: every version
  // found is loaded anew beside the one serving it, which keeps serving until the new
  // load is READY, then takes no new request and is drained (its queued requests run and
  // answered); a version that was not READY is loaded as Load does; a version whose files
  // are gone is drained and UNLOADED ("removed from the repository"); a model whose
  // directory is gone is unloaded. A new load that fails leaves the serving one as it was
  // (its reason says so) and its error is returned. Blocks: call it from a lifecycle
  // thread. INVALID_ARGUMENT (bad name), NOT_FOUND (neither on disk nor known),
  // UNAVAILABLE (shutting down).
  Status Reload(const std::string& name);

  // The names of the models the repository knows, and of the model directories on disk.
  std::vector<std::string> KnownModels() const;
  std::vector<std::string> ModelsOnDisk() const;

  // Drains every READY version (see ModelVersion::Drain); a version loading meanwhile
  // starts drained, and LoadAll and Load load no further one (they become UNLOADED).
  // Idempotent.
  void ShutdownSchedulers();

  const std::string& root() const { return options_.root; }

 private:
  explicit ModelRepository(ModelRepositoryOptions options) : options_(std::move(options)) {}
  // Tells the listener, if any.
  void Changed() const;
  // Records a loading version's outcome (FAILED or UNLOADED with `reason`) unless it is no
  // longer LOADING (an Unload came first), and tells the listener when it was recorded.
  bool Finish(const PendingVersion& p, ModelState state, std::string reason);
  // Loads one scanned version and records its state. Returns its failure, if any.
  Status LoadPending(const PendingVersion& p);
  // root/name when `name` is a valid model name with a directory there; else
  // INVALID_ARGUMENT or NOT_FOUND.
  StatusOr<std::filesystem::path> ModelDirectory(const std::string& name) const;
  // Loads a new copy of a READY version and swaps it in (see Reload).
  Status ReplaceReady(const PendingVersion& p);
  // Drains versions taken out of service, each once no lookup holds it any more (a
  // request that found it just before still queues on it, and is answered), logging
  // "<version> <what>" when `what` is set; releases them on the calling thread.
  static void RetireAndDrain(std::vector<std::shared_ptr<ModelVersion>> versions, const char* what);

  const ModelRepositoryOptions options_;
  std::function<void()> listener_;
  // The lifecycle: every version's state and what serves it (version_states.h).
  VersionStates<std::shared_ptr<ModelVersion>> states_;
};

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_MODEL_REPOSITORY_H_
