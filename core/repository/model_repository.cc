#include "core/repository/model_repository.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/repository/model_config.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "core/repository/version_loader.h"

namespace xai::core {
namespace fs = std::filesystem;
namespace {

// The versions' numbers of a scan.
std::vector<int64_t> Numbers(const std::vector<PendingVersion>& scanned) {
  std::vector<int64_t> numbers;
  for (const PendingVersion& p : scanned) numbers.push_back(p.version);
  return numbers;
}

// The scanned versions whose numbers are in `chosen`, in `chosen`'s order.
std::vector<PendingVersion> Chosen(std::vector<PendingVersion>& scanned,
                                   const std::vector<int64_t>& chosen) {
  std::vector<PendingVersion> out;
  for (int64_t version : chosen) {
    for (PendingVersion& p : scanned) {
      if (p.version == version) out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Create(ModelRepositoryOptions options) {
  std::error_code ec;
  if (!fs::is_directory(options.root, ec)) {
    return NotFoundError("model repository \"" + options.root + "\" is not a directory");
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(std::move(options)));
}

ModelRepository::~ModelRepository() = default;

void ModelRepository::SetStateListener(std::function<void()> listener) {
  listener_ = std::move(listener);
}

void ModelRepository::Changed() const {
  if (listener_) listener_();
}

bool ModelRepository::Finish(const PendingVersion& p, ModelState state, std::string reason) {
  const bool recorded = states_.Finish(p.name, p.version, state, std::move(reason));
  if (recorded) Changed();
  return recorded;
}

void ModelRepository::LoadAll() {
  std::vector<PendingVersion> pending;
  for (const std::string& name : ModelsOnDisk()) {
    for (PendingVersion& p : ScanModel(options_.root, fs::path(options_.root) / name)) {
      pending.push_back(std::move(p));
    }
  }
  std::vector<std::pair<std::string, int64_t>> listed;
  for (const PendingVersion& p : pending) listed.emplace_back(p.name, p.version);
  states_.ListLoading(listed);
  Changed();
  if (pending.empty()) spdlog::warn("model repository {} holds no model", options_.root);

  for (const PendingVersion& p : pending) (void)LoadPending(p);
}

Status ModelRepository::LoadPending(const PendingVersion& p) {
  const std::string display =
      "model '" + p.name + "'" + (p.version > 0 ? " v" + std::to_string(p.version) : "");
  if (states_.stopped()) {  // shutting down: do not spend minutes loading what will not serve
    Finish(p, ModelState::kUnloaded, "not loaded: the server is shutting down");
    return UnavailableError("not loaded: the server is shutting down");
  }
  if (!p.problem.ok()) {
    spdlog::warn("{} FAILED: {}", display, p.problem.message());
    Finish(p, ModelState::kFailed, p.problem.message());
    return p.problem;
  }
  const auto start = std::chrono::steady_clock::now();
  auto loaded = LoadVersion(p, options_);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (!loaded.ok()) {
    spdlog::warn("{} FAILED after {} ms: {}", display, ms, loaded.status().message());
    Finish(p, ModelState::kFailed, loaded.status().message());
    return loaded.status();
  }
  LogLoaded(p, **loaded, ms);
  // Only what is still LOADING becomes READY: an Unload meanwhile wins, and a READY
  // version is never replaced (nor destroyed) under the lock.
  bool stopped = false;
  if (!states_.Finish(p.name, p.version, ModelState::kReady, "", *loaded, &stopped)) {
    (*loaded)->Drain();  // it took no request; released here, outside the lock
    spdlog::info("{} was unloaded while it loaded; not served", display);
    return UnavailableError(display + " was unloaded while it loaded");
  }
  if (stopped) (*loaded)->Drain();
  Changed();
  return OkStatus();
}

StatusOr<fs::path> ModelRepository::ModelDirectory(const std::string& name) const {
  XAI_RETURN_IF_ERROR(CheckModelName("model name", name));
  const fs::path dir = fs::path(options_.root) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError("model \"" + name + "\" has no directory in " + options_.root);
  }
  return dir;
}

Status ModelRepository::Load(const std::string& name) {
  XAI_ASSIGN_OR_RETURN(const fs::path dir, ModelDirectory(name));
  std::vector<PendingVersion> scanned = ScanModel(options_.root, dir);  // not under a lock
  XAI_ASSIGN_OR_RETURN(const std::vector<int64_t> begun, states_.BeginLoad(name, Numbers(scanned)));
  Changed();
  Status last = OkStatus();
  for (const PendingVersion& p : Chosen(scanned, begun)) {
    Status loaded = LoadPending(p);
    if (!loaded.ok()) last = loaded;
  }
  if (Get(name, 0).ok()) return OkStatus();
  return last.ok() ? UnavailableError("model \"" + name + "\" has no ready version") : last;
}

Status ModelRepository::Unload(const std::string& name) {
  XAI_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<ModelVersion>> draining, states_.Unload(name));
  Changed();
  RetireAndDrain(std::move(draining), "unloaded");
  return OkStatus();  // `draining` released there, on the caller's thread
}

void ModelRepository::RetireAndDrain(std::vector<std::shared_ptr<ModelVersion>> versions,
                                     const char* what) {
  for (auto& version : versions) {
    // Out of the map, no new lookup finds it; a lookup that found it holds it only while
    // it queues its request. Wait for those (bounded, in case a caller keeps one), so that
    // no request is refused by a draining scheduler.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (version.use_count() > 1 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    version->Drain();
    if (what != nullptr) spdlog::info("{} {}", version->model().display_name(), what);
    version.reset();
  }
}

Status ModelRepository::ReplaceReady(const PendingVersion& p) {
  const std::string display = "model '" + p.name + "' v" + std::to_string(p.version);
  auto record_failure = [&](const Status& failed) {
    spdlog::warn("{} reload FAILED, the loaded version keeps serving: {}", display,
                 failed.message());
    states_.NoteReloadFailure(p.name, p.version, failed.message());
    return Status(failed.code(),
                  "reloading failed, the loaded version keeps serving: " + failed.message());
  };
  if (!p.problem.ok()) return record_failure(p.problem);
  const auto start = std::chrono::steady_clock::now();
  auto loaded = LoadVersion(p, options_);
  if (!loaded.ok()) return record_failure(loaded.status());
  std::optional<std::shared_ptr<ModelVersion>> previous =
      states_.Replace(p.name, p.version, *loaded);
  if (!previous) {
    (*loaded)->Drain();
    return UnavailableError(display + " was unloaded while it reloaded");
  }
  Changed();
  RetireAndDrain({std::move(*previous)}, nullptr);
  spdlog::info("{} reloaded in {} ms: the new load serves, the previous one drained", display,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count());
  return OkStatus();
}

Status ModelRepository::Reload(const std::string& name) {
  const StatusOr<fs::path> dir = ModelDirectory(name);
  if (dir.status().code() == StatusCode::kNotFound) {
    if (!states_.Knows(name)) return dir.status();
    spdlog::info("model '{}': its directory is gone; unloading it", name);
    return Unload(name);
  }
  XAI_RETURN_IF_ERROR(dir.status());
  std::vector<PendingVersion> scanned = ScanModel(options_.root, *dir);  // not under a lock
  XAI_ASSIGN_OR_RETURN(auto plan, states_.BeginReload(name, Numbers(scanned)));
  Changed();
  RetireAndDrain(std::move(plan.removed), "removed from the repository: drained and unloaded");
  const std::vector<PendingVersion> fresh = Chosen(scanned, plan.fresh);
  const std::vector<PendingVersion> replace = Chosen(scanned, plan.replace);
  Status first = OkStatus();
  for (const PendingVersion& p : fresh) {
    if (Status loaded = LoadPending(p); !loaded.ok() && first.ok()) first = loaded;
  }
  for (const PendingVersion& p : replace) {
    if (Status replaced = ReplaceReady(p); !replaced.ok() && first.ok()) first = replaced;
  }
  return first;
}

std::vector<std::string> ModelRepository::KnownModels() const { return states_.Names(); }

std::vector<std::string> ModelRepository::ModelsOnDisk() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.root, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') names.push_back(name);
  }
  if (ec) spdlog::error("cannot list model repository {}: {}", options_.root, ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

void ModelRepository::ShutdownSchedulers() {
  for (const auto& version : states_.Stop()) version->Drain();
}

std::vector<ModelVersionStatus> ModelRepository::List() const {
  std::vector<ModelVersionStatus> out;
  for (const auto& row : states_.List()) {
    ModelVersionStatus status{row.name, row.version, row.state, row.reason, {}};
    if (row.serving) {
      const ModelPool& pool = *row.serving->model().pool;
      status.devices = DeviceNames(pool);
      status.queued = row.serving->scheduler().queued();
      status.instances = pool.size();
      status.busy_instances = pool.size() - pool.free_instances();
    }
    out.push_back(std::move(status));
  }
  return out;
}

std::vector<std::shared_ptr<ModelVersion>> ModelRepository::ReadyVersions() const {
  return states_.Ready();
}

std::vector<std::shared_ptr<const ServableModel>> ModelRepository::ReadyModels() const {
  std::vector<std::shared_ptr<const ServableModel>> out;
  for (const auto& version : ReadyVersions()) out.push_back(version->shared_model());
  return out;
}

StatusOr<std::shared_ptr<const ServableModel>> ModelRepository::Get(std::string_view name,
                                                                    int64_t version) const {
  XAI_ASSIGN_OR_RETURN(std::shared_ptr<ModelVersion> serving, GetVersion(name, version));
  return serving->shared_model();
}

StatusOr<std::shared_ptr<ModelVersion>> ModelRepository::GetVersion(std::string_view name,
                                                                    int64_t version) const {
  if (name.empty()) return InvalidArgumentError("model.name is required");
  XAI_RETURN_IF_ERROR(CheckModelName("model.name", name));
  if (version < 0) {
    return InvalidArgumentError("model.version must be >= 0 (0: newest ready), got " +
                                std::to_string(version));
  }
  return states_.Find(name, version);
}

}  // namespace xai::core
