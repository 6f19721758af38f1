#include "core/explainer.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "core/image/image_preprocessor.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "core/runtime/compute_pool.h"

namespace xai::core {

Explainer::Explainer(const ExplainerOptions& options) : options_(options) {}

StatusOr<std::unique_ptr<Explainer>> Explainer::Create(const ExplainerOptions& options,
                                                       std::function<void()> on_state_change) {
  if (options.max_image_pixels < 1 || options.max_image_side < 1 ||
      options.max_image_side > (int64_t{1} << 31)) {
    return InvalidArgumentError("max image pixels must be >= 1, max image sides in [1, 2^31]");
  }
  if (options.queue_capacity < 1) {
    return InvalidArgumentError("queue capacity must be >= 1, got " +
                                std::to_string(options.queue_capacity));
  }
  if (options.compute_threads < -1) {
    return InvalidArgumentError("compute threads must be >= 0, or -1 for the default, got " +
                                std::to_string(options.compute_threads));
  }
  XAI_ASSIGN_OR_RETURN(auto repository,
                       ModelRepository::Create({options.model_repository, options.max_queue_time,
                                                options.queue_capacity}));
  if (options.intra_op_threads > 0) at::set_num_threads(options.intra_op_threads);

  std::unique_ptr<Explainer> explainer(new Explainer(options));
  explainer->repository_ = std::move(repository);
  explainer->preprocessor_ = std::make_unique<ImagePreprocessor>(
      ImagePreprocessorOptions{options.max_image_pixels, options.max_image_side});
  explainer->compute_ = std::make_unique<ComputePool>(
      options.compute_threads >= 0 ? options.compute_threads
                                   : ComputePool::DefaultHelpers(at::get_num_threads()));
  explainer->environment_ = RequestEnvironment{
      explainer->preprocessor_.get(), explainer->compute_.get(),      options.max_targets,
      options.max_cam_layers,         options.max_perturbation_batch, options.max_attribution_batch,
      options.max_attribution_steps};
  explainer->repository_->SetStateListener(on_state_change);
  Explainer* self = explainer.get();
  explainer->serving_ = [self](const ModelRef& ref) { return self->ServingVersion(ref); };
  explainer->loader_ = std::thread([self, on_state_change] {
    self->repository_->LoadAll();
    {
      std::lock_guard<std::mutex> lock(self->loaded_mu_);
      self->loaded_ = true;
    }
    if (on_state_change) on_state_change();  // loaded() changed too
    // Waiters are released only now, so that what they read (e.g. health) already
    // reflects the finished load.
    {
      std::lock_guard<std::mutex> lock(self->loaded_mu_);
      self->load_announced_ = true;
    }
    self->loaded_cv_.notify_all();
  });
  return explainer;
}

Explainer::~Explainer() {
  Shutdown();
  if (loader_.joinable()) loader_.join();
}

void Explainer::Shutdown() {
  stopping_ = true;
  repository_->ShutdownSchedulers();
}

Status Explainer::LoadModel(const std::string& name) {
  if (stopping_) return UnavailableError("the server is shutting down");
  return repository_->Load(name);
}

Status Explainer::UnloadModel(const std::string& name) {
  if (stopping_) return UnavailableError("the server is shutting down");
  return repository_->Unload(name);
}

Status Explainer::ReloadModel(const std::string& name) {
  if (stopping_) return UnavailableError("the server is shutting down");
  return repository_->Reload(name);
}

namespace {

// A digest of a model directory's files: relative paths, sizes and modification times
// (FNV-1a). Any file added, removed, resized or rewritten changes it.
uint64_t Fingerprint(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> parts;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator() && parts.size() < 10000; it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const auto size = it->file_size(file_ec);
    const auto time = it->last_write_time(file_ec).time_since_epoch().count();
    parts.push_back(fs::relative(it->path(), dir, file_ec).string() + '\0' + std::to_string(size) +
                    '\0' + std::to_string(time));
  }
  std::sort(parts.begin(), parts.end());
  uint64_t hash = 1469598103934665603ull;
  for (const std::string& part : parts) {
    for (unsigned char c : part + '\n') hash = (hash ^ c) * 1099511628211ull;
  }
  return hash;
}

}  // namespace

Status Explainer::SyncWithDisk(std::vector<std::string>* acted_on) {
  std::lock_guard<std::mutex> lock(sync_mu_);
  if (stopping_) return UnavailableError("the server is shutting down");
  std::map<std::string, uint64_t> now;
  for (const std::string& name : repository_->ModelsOnDisk()) {
    now[name] = Fingerprint(std::filesystem::path(repository_->root()) / name);
  }
  const bool first = !disk_noted_;
  std::map<std::string, uint64_t> before = std::move(disk_fingerprints_);
  disk_fingerprints_ = now;
  disk_noted_ = true;
  if (first) return OkStatus();
  Status result = OkStatus();
  auto act = [&](const std::string& name, Status status) {
    if (acted_on != nullptr) acted_on->push_back(name);
    if (!status.ok() && result.ok()) result = status;
  };
  for (const auto& [name, fingerprint] : now) {
    const auto was = before.find(name);
    if (was == before.end()) {
      spdlog::info("model repository: new model directory '{}', loading it", name);
      act(name, repository_->Load(name));
    } else if (was->second != fingerprint) {
      spdlog::info("model repository: the files of '{}' changed, reloading it", name);
      act(name, repository_->Reload(name));
    }
  }
  const std::vector<std::string> known = repository_->KnownModels();
  for (const auto& [name, fingerprint] : before) {
    if (now.count(name) || std::find(known.begin(), known.end(), name) == known.end()) continue;
    spdlog::info("model repository: '{}' is gone from disk, unloading it", name);
    act(name, repository_->Unload(name));
  }
  return result;
}

int Explainer::queued() const {
  int n = 0;
  for (const auto& version : repository_->ReadyVersions()) n += version->scheduler().queued();
  return n;
}

void Explainer::WaitUntilLoaded() {
  std::unique_lock<std::mutex> lock(loaded_mu_);
  loaded_cv_.wait(lock, [this] { return load_announced_; });
}

bool Explainer::loaded() const {
  std::lock_guard<std::mutex> lock(loaded_mu_);
  return loaded_;
}

std::vector<ModelVersionStatus> Explainer::ListModels() const { return repository_->List(); }

StatusOr<ModelDescription> Explainer::DescribeModel(const ModelRef& ref) const {
  XAI_ASSIGN_OR_RETURN(std::shared_ptr<const ServableModel> model,
                       repository_->Get(ref.name, ref.version));
  ModelDescription d;
  d.model = {model->name, model->version};
  d.input_shape = model->input_shape;
  d.num_classes = static_cast<int>(model->pool->num_classes());
  d.labels = model->labels;
  d.layers = model->layers;
  d.default_cam_layer = model->default_cam_layer;
  d.default_path_layers = model->default_path_layers;
  d.recommended_cam_layer = model->recommended_cam_layer;
  d.default_cam_layer_problem = model->default_cam_layer_problem;
  d.default_path_layers_problem = model->default_path_layers_problem;
  d.output = model->pool->output_note();
  d.inference_graph = model->pool->frozen_note();
  d.methods = ServedMethods();
  for (const c10::Device& device : model->pool->devices()) d.devices.push_back(device.str());
  return d;
}

StatusOr<std::vector<ModelStatisticsEntry>> Explainer::Statistics(const ModelRef& ref) const {
  std::vector<std::shared_ptr<const ServableModel>> models;
  if (ref.name.empty()) {
    models = repository_->ReadyModels();
  } else if (ref.version != 0) {
    XAI_ASSIGN_OR_RETURN(auto model, repository_->Get(ref.name, ref.version));
    models.push_back(model);
  } else {
    XAI_RETURN_IF_ERROR(repository_->Get(ref.name, 0).status());  // codes for unknown or not ready
    for (auto& model : repository_->ReadyModels()) {
      if (model->name == ref.name) models.push_back(model);
    }
  }
  std::vector<ModelStatisticsEntry> out;
  for (const auto& model : models) {
    out.push_back({{model->name, model->version}, model->statistics.Snapshot()});
  }
  return out;
}

StatusOr<Explainer::CacheIdentity> Explainer::ServingIdentity(const ModelRef& ref) const {
  XAI_ASSIGN_OR_RETURN(std::shared_ptr<ModelVersion> version, ServingVersion(ref));
  const ServableModel& model = version->model();
  return CacheIdentity{model.name, model.version, model.load_id, !model.config.no_cache()};
}

StatusOr<std::shared_ptr<ModelVersion>> Explainer::ServingVersion(const ModelRef& ref) const {
  if (stopping_) return UnavailableError("the server is shutting down");
  return repository_->GetVersion(ref.name, ref.version);
}

void Explainer::Classify(ClassifyRequest request, Callback<ClassifyResult> done) {
  QueueClassify(environment_, serving_, std::move(request), std::move(done));
}

void Explainer::GradCam(GradCamRequest request, Callback<GradCamResult> done) {
  QueueGradCam(environment_, serving_, std::move(request), std::move(done));
}

void Explainer::Attribute(AttributeRequest request, Callback<AttributeResult> done) {
  QueueAttribute(environment_, serving_, std::move(request), std::move(done));
}

void Explainer::DecisionPath(DecisionPathRequest request, Callback<DecisionPathResult> done) {
  QueueDecisionPath(environment_, serving_, std::move(request), std::move(done));
}

}  // namespace xai::core
