#include "core/explainer.h"

#include <algorithm>

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include "core/bounded_executor.h"
#include "core/classifier.h"
#include "core/image_preprocessor.h"
#include "core/input_tensor.h"
#include "core/servable_model.h"

namespace xai::core {
namespace {

// The model input of a request, from encoded bytes or a tensor.
StatusOr<at::Tensor> PrepareInput(const ImageRef& image, const ServableModel& model,
                                  const ImagePreprocessor& preprocessor) {
  switch (image.kind) {
    case ImageRef::Kind::kEncoded: {
      XAI_ASSIGN_OR_RETURN(PreprocessedImage prepared,
                           preprocessor.Preprocess(image.encoded, model.config.input()));
      return prepared.input;
    }
    case ImageRef::Kind::kTensor:
      return InputFromTensorBytes(image.tensor_shape, image.tensor_data, model.input_shape);
    case ImageRef::Kind::kNone:
      break;
  }
  return InvalidArgumentError("image is required: set image.encoded or image.tensor");
}

Status CheckDeadline(Clock::time_point deadline, const char* where) {
  if (Clock::now() >= deadline) {
    return DeadlineExceededError(std::string("deadline exceeded ") + where);
  }
  return OkStatus();
}

}  // namespace

Explainer::Explainer(const ExplainerOptions& options) : options_(options) {}

StatusOr<std::unique_ptr<Explainer>> Explainer::Create(const ExplainerOptions& options,
                                                       std::function<void()> on_state_change) {
  if (options.max_image_pixels < 1) {
    return InvalidArgumentError("max image pixels must be >= 1");
  }
  XAI_ASSIGN_OR_RETURN(auto repository,
                       ModelRepository::Create({options.model_repository, options.acquire_timeout}));
  if (options.intra_op_threads > 0) at::set_num_threads(options.intra_op_threads);

  std::unique_ptr<Explainer> explainer(new Explainer(options));
  explainer->repository_ = std::move(repository);
  explainer->preprocessor_ =
      std::make_unique<ImagePreprocessor>(ImagePreprocessorOptions{options.max_image_pixels});
  const int threads = options.worker_threads > 0
                          ? options.worker_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  explainer->executor_ =
      std::make_unique<BoundedExecutor>(BoundedExecutorOptions{threads, options.queue_capacity});
  explainer->repository_->SetStateListener(on_state_change);
  Explainer* self = explainer.get();
  explainer->loader_ = std::thread([self, on_state_change] {
    self->repository_->LoadAll();
    {
      std::lock_guard<std::mutex> lock(self->loaded_mu_);
      self->loaded_ = true;
    }
    self->loaded_cv_.notify_all();
    if (on_state_change) on_state_change();  // loaded() changed too
  });
  return explainer;
}

Explainer::~Explainer() {
  Shutdown();
  if (loader_.joinable()) loader_.join();
}

void Explainer::Shutdown() { executor_->Shutdown(); }

int Explainer::queued() const { return executor_->queued(); }

void Explainer::WaitUntilLoaded() {
  std::unique_lock<std::mutex> lock(loaded_mu_);
  loaded_cv_.wait(lock, [this] { return loaded_; });
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

void Explainer::Classify(ClassifyRequest request, Callback<ClassifyResult> done) {
  if (request.top_k < 0) {
    done(InvalidArgumentError("top_k must be >= 0 (0: " + std::to_string(kDefaultTopK) +
                              "), got " + std::to_string(request.top_k)));
    return;
  }
  auto model = repository_->Get(request.model.name, request.model.version);
  if (!model.ok()) {
    done(model.status());
    return;
  }
  // The task owns the request and the callback; if it cannot be queued, answer here.
  auto shared_done = std::make_shared<Callback<ClassifyResult>>(std::move(done));
  Status queued = executor_->Submit(
      [this, request = std::move(request), model = *std::move(model), shared_done]() {
        auto run = [&]() -> StatusOr<ClassifyResult> {
          XAI_RETURN_IF_ERROR(CheckDeadline(request.deadline, "while queued"));
          XAI_ASSIGN_OR_RETURN(at::Tensor input, PrepareInput(request.image, *model, *preprocessor_));
          XAI_ASSIGN_OR_RETURN(ModelPool::Handle instance, model->pool->Acquire(request.deadline));
          const int top_k = request.top_k == 0 ? kDefaultTopK : request.top_k;
          auto scores = ClassifyInput(instance, input, top_k);
          if (!scores.ok()) return scores.status().WithContext(model->display_name());
          ClassifyResult result;
          result.model = {model->name, model->version};
          for (const ClassScore& s : *scores) {
            result.classes.push_back({s.index, model->Label(s.index), s.probability, s.logit});
          }
          return result;
        };
        (*shared_done)(run());
      });
  if (!queued.ok()) (*shared_done)(queued);
}

}  // namespace xai::core
