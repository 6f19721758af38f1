#include "core/repository/model_repository.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "core/repository/model_config.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "core/repository/version_loader.h"
#include "core/runtime/feature_layout.h"
#include "core/runtime/input_tensor.h"
#include "core/runtime/layer_inspector.h"

namespace xai::core {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> DeviceNames(const ModelPool& pool) {
  std::vector<std::string> names;
  for (const c10::Device& d : pool.devices()) names.push_back(d.str());
  return names;
}

// " (auto: ...)" when a group asked for "auto" (or named no device) and got the CPU, so
// that the log says why a GPU node runs on its CPU.
std::string AutoNote(const xai::v1::ModelConfig& config, const ModelPool& pool) {
  bool automatic = config.instance_group().empty();
  for (const xai::v1::InstanceGroup& group : config.instance_group()) {
    automatic =
        automatic || group.devices().empty() ||
        std::find(group.devices().begin(), group.devices().end(), "auto") != group.devices().end();
  }
  const bool no_gpu = std::none_of(pool.devices().begin(), pool.devices().end(),
                                   [](const c10::Device& d) { return d.is_cuda(); });
  return automatic && no_gpu ? " (auto: LibTorch sees no CUDA GPU)" : "";
}

std::string Join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
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

void ModelRepository::SetStateIfLoading(const std::string& name, int64_t version, Entry entry) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& current = models_[name][version];
    if (current.state != ModelState::kLoading) return;  // unloaded meanwhile
    current = std::move(entry);
  }
  if (listener_) listener_();
}

void ModelRepository::LoadAll() {
  std::vector<PendingVersion> pending;
  for (const std::string& name : ModelsOnDisk()) {
    for (PendingVersion& p : ScanModel(options_.root, fs::path(options_.root) / name)) {
      pending.push_back(std::move(p));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const PendingVersion& p : pending) models_[p.name][p.version] = Entry{};
  }
  if (listener_) listener_();
  if (pending.empty()) spdlog::warn("model repository {} holds no model", options_.root);

  for (const PendingVersion& p : pending) (void)LoadPending(p);
}

Status ModelRepository::LoadPending(const PendingVersion& p) {
  const std::string display =
      "model '" + p.name + "'" + (p.version > 0 ? " v" + std::to_string(p.version) : "");
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = schedulers_stopped_;
  }
  if (stopped) {  // shutting down: do not spend minutes loading what will not serve
    SetStateIfLoading(
        p.name, p.version,
        Entry{ModelState::kUnloaded, "not loaded: the server is shutting down", nullptr});
    return UnavailableError("not loaded: the server is shutting down");
  }
  if (!p.problem.ok()) {
    spdlog::warn("{} FAILED: {}", display, p.problem.message());
    SetStateIfLoading(p.name, p.version, Entry{ModelState::kFailed, p.problem.message(), nullptr});
    return p.problem;
  }
  const auto start = std::chrono::steady_clock::now();
  auto loaded = LoadVersion(p, options_);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (!loaded.ok()) {
    spdlog::warn("{} FAILED after {} ms: {}", display, ms, loaded.status().message());
    SetStateIfLoading(p.name, p.version,
                      Entry{ModelState::kFailed, loaded.status().message(), nullptr});
    return loaded.status();
  }
  const ServableModel& model = (*loaded)->model();
  const BatchSchedulerOptions& scheduling = (*loaded)->scheduler().options();
  spdlog::info("{} loaded: {} instance(s) on {}{}, {} classes, input {}, {}, queue {}, {}, {} ms",
               display, model.pool->size(), Join(DeviceNames(*model.pool), ", "),
               AutoNote(p.config, *model.pool), model.pool->num_classes(),
               ShapeToString(model.input_shape),
               scheduling.max_batch_size > 1
                   ? "batches up to " + std::to_string(scheduling.max_batch_size) + " within " +
                         std::to_string(scheduling.max_queue_delay.count()) + " us"
                   : std::string("no batching"),
               scheduling.queue_capacity, model.pool->frozen_note(), ms);
  // Where ABLATION_CAM runs only the network after the layer, and where full forwards.
  int split = 0;
  std::string refused;
  for (const LayerInfo& layer : model.layers) {
    if (!layer.is_feature_map()) continue;
    if (layer.split_refusal.empty()) {
      ++split;
    } else {
      refused += (refused.empty() ? "" : "; ") + layer.path + " (" + layer.split_refusal + ")";
    }
  }
  spdlog::info("{}: ABLATION_CAM runs the network after the layer alone at {} feature layers{}",
               display, split, refused.empty() ? "" : "; full forwards at " + refused);
  // What CAM requests without layers get, and the layers whose layout stays unresolved.
  int ambiguous = 0;
  for (const LayerInfo& layer : model.layers) {
    ambiguous += layer.layout_note.rfind("ambiguous", 0) == 0;
  }
  if (model.pool->attention_rewrites() > 0) {
    spdlog::info(
        "{}: {} attention layers traced on PyTorch's inference fast path, which has no "
        "gradient, run its differentiable equivalent",
        display, model.pool->attention_rewrites());
  }
  spdlog::info("{}: logits from {}; default CAM layer {}{}{}", display, model.pool->output_note(),
               model.default_cam_layer.empty() ? "none (" + model.default_cam_layer_problem + ")"
                                               : model.default_cam_layer,
               model.recommended_cam_layer.empty() ? "" : " (a transformer's recommended layer)",
               ambiguous == 0 ? ""
                              : "; " + std::to_string(ambiguous) +
                                    " layer(s) with an ambiguous layout (DescribeModel's "
                                    "layout_note)");
  bool unloaded = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = schedulers_stopped_;
    Entry& entry = models_[p.name][p.version];
    // Only what is still LOADING becomes READY: an Unload meanwhile wins, and a READY
    // version is never replaced (nor destroyed) under the lock.
    unloaded = entry.state != ModelState::kLoading;
    if (!unloaded) entry = Entry{ModelState::kReady, "", *loaded};
  }
  if (unloaded) {
    (*loaded)->Drain();  // it took no request; released here, outside the lock
    spdlog::info("{} was unloaded while it loaded; not served", display);
    return UnavailableError(display + " was unloaded while it loaded");
  }
  if (stopped) (*loaded)->Drain();
  if (listener_) listener_();
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
  std::vector<PendingVersion> scanned =
      ScanModel(options_.root, dir);  // reads files: not under the lock
  std::vector<PendingVersion> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (schedulers_stopped_) return UnavailableError("the server is shutting down");
    for (PendingVersion& p : scanned) {
      auto& versions = models_[p.name];
      const auto known = versions.find(p.version);
      // READY keeps serving; LOADING is being loaded by LoadAll or another Load.
      if (known != versions.end() && (known->second.state == ModelState::kReady ||
                                      known->second.state == ModelState::kLoading)) {
        continue;
      }
      versions[p.version] = Entry{};
      pending.push_back(std::move(p));
    }
  }
  if (listener_) listener_();
  Status last = OkStatus();
  for (const PendingVersion& p : pending) {
    Status loaded = LoadPending(p);
    if (!loaded.ok()) last = loaded;
  }
  if (Get(name, 0).ok()) return OkStatus();
  return last.ok() ? UnavailableError("model \"" + name + "\" has no ready version") : last;
}

Status ModelRepository::Unload(const std::string& name) {
  std::vector<std::shared_ptr<ModelVersion>> draining;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto model = models_.find(name);
    if (model == models_.end()) {
      return NotFoundError("model \"" + name + "\" is not in the repository");
    }
    for (auto& [version, entry] : model->second) {
      if (entry.version) draining.push_back(std::move(entry.version));
      entry = Entry{ModelState::kUnloaded, "unloaded", nullptr};
    }
  }
  if (listener_) listener_();
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
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = models_[p.name][p.version];
    if (entry.state == ModelState::kReady) {
      entry.reason = "serving the previous load; reloading failed: " + failed.message();
    }
    return Status(failed.code(),
                  "reloading failed, the loaded version keeps serving: " + failed.message());
  };
  if (!p.problem.ok()) return record_failure(p.problem);
  const auto start = std::chrono::steady_clock::now();
  auto loaded = LoadVersion(p, options_);
  if (!loaded.ok()) return record_failure(loaded.status());
  std::shared_ptr<ModelVersion> old;
  bool swapped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = models_[p.name][p.version];
    // Swapped only while the old one is READY: an Unload or a shutdown meanwhile wins.
    if (entry.state == ModelState::kReady && !schedulers_stopped_) {
      old = std::move(entry.version);
      entry = Entry{ModelState::kReady, "", *loaded};
      swapped = true;
    }
  }
  if (!swapped) {
    (*loaded)->Drain();
    return UnavailableError(display + " was unloaded while it reloaded");
  }
  if (listener_) listener_();
  RetireAndDrain({std::move(old)}, nullptr);
  spdlog::info("{} reloaded in {} ms: the new load serves, the previous one drained", display,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count());
  return OkStatus();
}

Status ModelRepository::Reload(const std::string& name) {
  const StatusOr<fs::path> dir = ModelDirectory(name);
  if (dir.status().code() == StatusCode::kNotFound) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (models_.count(name) == 0) return dir.status();
    }
    spdlog::info("model '{}': its directory is gone; unloading it", name);
    return Unload(name);
  }
  XAI_RETURN_IF_ERROR(dir.status());
  std::vector<PendingVersion> scanned =
      ScanModel(options_.root, *dir);  // reads files: not under the lock
  std::vector<PendingVersion> fresh;
  std::vector<PendingVersion> replace;
  std::vector<std::shared_ptr<ModelVersion>> removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (schedulers_stopped_) return UnavailableError("the server is shutting down");
    auto& versions = models_[name];
    std::set<int64_t> on_disk;
    for (PendingVersion& p : scanned) {
      on_disk.insert(p.version);
      const auto known = versions.find(p.version);
      if (known != versions.end() && known->second.state == ModelState::kLoading) continue;
      if (known != versions.end() && known->second.state == ModelState::kReady) {
        replace.push_back(std::move(p));
      } else {
        versions[p.version] = Entry{};
        fresh.push_back(std::move(p));
      }
    }
    for (auto& [version, entry] : versions) {
      if (on_disk.count(version) || entry.state == ModelState::kLoading) continue;
      if (entry.version) removed.push_back(std::move(entry.version));
      entry = Entry{ModelState::kUnloaded, "removed from the repository", nullptr};
    }
  }
  if (listener_) listener_();
  RetireAndDrain(std::move(removed), "removed from the repository: drained and unloaded");
  Status first = OkStatus();
  for (const PendingVersion& p : fresh) {
    if (Status loaded = LoadPending(p); !loaded.ok() && first.ok()) first = loaded;
  }
  for (const PendingVersion& p : replace) {
    if (Status replaced = ReplaceReady(p); !replaced.ok() && first.ok()) first = replaced;
  }
  return first;
}

std::vector<std::string> ModelRepository::KnownModels() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, versions] : models_) names.push_back(name);
  return names;
}

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
  {
    std::lock_guard<std::mutex> lock(mu_);
    schedulers_stopped_ = true;
  }
  for (const auto& version : ReadyVersions()) version->Drain();
}

std::vector<ModelVersionStatus> ModelRepository::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelVersionStatus> out;
  for (const auto& [name, versions] : models_) {
    for (const auto& [version, entry] : versions) {
      ModelVersionStatus status{name, version, entry.state, entry.reason, {}};
      if (entry.version) {
        const ModelPool& pool = *entry.version->model().pool;
        status.devices = DeviceNames(pool);
        status.queued = entry.version->scheduler().queued();
        status.instances = pool.size();
        status.busy_instances = pool.size() - pool.free_instances();
      }
      out.push_back(std::move(status));
    }
  }
  return out;
}

std::vector<std::shared_ptr<ModelVersion>> ModelRepository::ReadyVersions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<ModelVersion>> out;
  for (const auto& [name, versions] : models_) {
    for (const auto& [version, entry] : versions) {
      if (entry.state == ModelState::kReady) out.push_back(entry.version);
    }
  }
  return out;
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
    return NotFoundError("model \"" + std::string(name) + "\" not found; the repository has: " +
                         (names.empty() ? "no model" : Join(names, ", ")));
  }
  const auto& versions = model->second;
  if (version == 0) {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (it->second.state == ModelState::kReady) return it->second.version;
    }
    std::vector<std::string> states;
    for (const auto& [v, entry] : versions) {
      states.push_back("v" + std::to_string(v) + " " + ModelStateName(entry.state) +
                       (entry.reason.empty() ? "" : " (" + entry.reason + ")"));
    }
    return UnavailableError("model \"" + std::string(name) +
                            "\" has no ready version: " + Join(states, "; "));
  }
  const auto entry = versions.find(version);
  if (entry == versions.end()) {
    std::vector<std::string> known;
    for (const auto& item : versions) known.push_back(std::to_string(item.first));
    return NotFoundError("model \"" + std::string(name) + "\" has no version " +
                         std::to_string(version) + "; versions: " + Join(known, ", "));
  }
  if (entry->second.state != ModelState::kReady) {
    return UnavailableError("model \"" + std::string(name) + "\" v" + std::to_string(version) +
                            " is " + ModelStateName(entry->second.state) +
                            (entry->second.reason.empty() ? "" : ": " + entry->second.reason));
  }
  return entry->second.version;
}

}  // namespace xai::core
