#include "core/explainer.h"

#include <ATen/Parallel.h>

#include "core/image/image_preprocessor.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "core/runtime/compute_pool.h"

namespace xai::core {

Explainer::Explainer(const ExplainerOptions& options) : options_(options) {}

StatusOr<std::unique_ptr<Explainer>> Explainer::Create(const ExplainerOptions& options,
                                                       std::function<void()> on_state_change) {
  if (options.max_image_pixels < 1) {
    return InvalidArgumentError("max image pixels must be >= 1");
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
  explainer->preprocessor_ =
      std::make_unique<ImagePreprocessor>(ImagePreprocessorOptions{options.max_image_pixels});
  explainer->compute_ = std::make_unique<ComputePool>(
      options.compute_threads >= 0 ? options.compute_threads
                                   : ComputePool::DefaultHelpers(at::get_num_threads()));
  explainer->environment_ =
      RequestEnvironment{explainer->preprocessor_.get(), explainer->compute_.get(),
                         options.max_targets, options.max_cam_layers};
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

void Explainer::DecisionPath(DecisionPathRequest request, Callback<DecisionPathResult> done) {
  QueueDecisionPath(environment_, serving_, std::move(request), std::move(done));
}

}  // namespace xai::core
