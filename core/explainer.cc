#include "core/explainer.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/classifier.h"
#include "core/decision_path.h"
#include "core/grad_cam.h"
#include "core/image_preprocessor.h"
#include "core/input_tensor.h"
#include "core/model_config.h"
#include "core/overlay.h"
#include "core/path_diagram.h"
#include "core/path_profile.h"
#include "core/servable_model.h"

namespace xai::core {
namespace {

// The model input of a request, from encoded bytes (then with its geometry, and the
// decoded original when `keep_original`) or from a tensor (original left empty).
StatusOr<PreprocessedImage> PrepareInput(const ImageRef& image, const ServableModel& model,
                                         const ImagePreprocessor& preprocessor,
                                         bool keep_original) {
  switch (image.kind) {
    case ImageRef::Kind::kEncoded:
      return preprocessor.Preprocess(image.encoded, model.config.input(), keep_original);
    case ImageRef::Kind::kTensor: {
      XAI_ASSIGN_OR_RETURN(
          at::Tensor input,
          InputFromTensorBytes(image.tensor_shape, image.tensor_data, model.input_shape));
      const int h = static_cast<int>(model.input_shape[1]);
      const int w = static_cast<int>(model.input_shape[2]);
      return PreprocessedImage{input, InputGeometry{w, h, w, h, 0, 0}, cv::Mat()};
    }
    case ImageRef::Kind::kNone:
      break;
  }
  return InvalidArgumentError("image is required: set image.encoded or image.tensor");
}

// The model input as an 8-bit BGR picture: mean and std undone, clamped to [0,1].
cv::Mat InputAsBgr8(const at::Tensor& input, const ServableModel& model) {
  const xai::v1::InputSpec& spec = model.config.input();
  at::Tensor x = input[0].to(at::kCPU, at::kFloat).clone();  // [C,H,W]
  const int64_t channels = x.size(0);
  for (int64_t c = 0; c < channels; ++c) {
    if (spec.std_size() > 0) x[c].mul_(spec.std(static_cast<int>(c)));
    if (spec.mean_size() > 0) x[c].add_(spec.mean(static_cast<int>(c)));
  }
  x = x.clamp(0, 1).mul(255).to(at::kByte).permute({1, 2, 0}).contiguous();  // HWC
  cv::Mat pixels(static_cast<int>(x.size(0)), static_cast<int>(x.size(1)),
                 CV_8UC(static_cast<int>(channels)), x.data_ptr<uint8_t>());
  cv::Mat bgr;
  switch (spec.color_order()) {
    case xai::v1::GRAY:
      cv::cvtColor(pixels, bgr, cv::COLOR_GRAY2BGR);
      break;
    case xai::v1::BGR:
      bgr = pixels.clone();
      break;
    default:
      cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);
      break;
  }
  return bgr;
}

// Renders the overlay of `cam` ([H,W] at the model input) over the original image, or over
// the model's input when asked or when there is no original (tensor input).
StatusOr<std::string> Overlay(const at::Tensor& cam, const at::Tensor& input,
                              const PreprocessedImage& image, const ServableModel& model,
                              bool model_input_size, const OverlayStyle& style) {
  try {
    const at::Tensor map = cam.to(at::kCPU, at::kFloat).contiguous();
    const cv::Mat cam_mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32F,
                          const_cast<float*>(map.data_ptr<float>()));
    if (model_input_size || image.original.empty()) {
      return RenderOverlayPng(InputAsBgr8(input, model), cam_mat, style);
    }
    return RenderOverlayPng(image.original, CamToOriginal(cam_mat, image.geometry), style);
  } catch (const std::exception& e) {
    return InternalError(std::string("overlay rendering failed: ") + e.what());
  }
}

}  // namespace

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
  XAI_ASSIGN_OR_RETURN(auto repository,
                       ModelRepository::Create({options.model_repository, options.max_queue_time,
                                                options.queue_capacity}));
  if (options.intra_op_threads > 0) at::set_num_threads(options.intra_op_threads);

  std::unique_ptr<Explainer> explainer(new Explainer(options));
  explainer->repository_ = std::move(repository);
  explainer->preprocessor_ =
      std::make_unique<ImagePreprocessor>(ImagePreprocessorOptions{options.max_image_pixels});
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

void Explainer::Shutdown() {
  stopping_ = true;
  repository_->ShutdownSchedulers();
}

int Explainer::queued() const {
  int n = 0;
  for (const auto& model : repository_->ReadyModels()) n += model->scheduler->queued();
  return n;
}

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

namespace {

// A request waiting in its model version's scheduler: what its batch needs from it, and
// its callback, called exactly once through Answer (or Fail, which the scheduler calls
// when it drops or refuses the job).
template <typename Result>
class RequestJob : public BatchJob {
 public:
  RequestJob(const ServableModel& model, const ImagePreprocessor& preprocessor, const char* method,
             std::string key, const ImageRef& image, bool keep_original, Clock::time_point deadline,
             CancelledFn cancelled, Explainer::Callback<Result> done)
      : model_(model),
        preprocessor_(preprocessor),
        method_(method),
        key_(std::move(key)),
        image_(image),
        keep_original_(keep_original),
        deadline_(deadline),
        cancelled_(std::move(cancelled)),
        done_(std::move(done)) {}

  const std::string& batch_key() const override { return key_; }
  Clock::time_point deadline() const override { return deadline_; }
  bool cancelled() const override { return cancelled_ && cancelled_(); }
  void Fail(const Status& status) override { Answer(status, Clock::now()); }

  // Records the statistics and calls back. `started`: when the job's batch began (its
  // queue time ends there).
  void Answer(StatusOr<Result> result, Clock::time_point started) {
    model_.statistics.Record(method_, result.ok(), started - enqueued(), Clock::now() - started);
    done_(std::move(result));
  }
  // Counts the execution of this job's batch, of `size` requests.
  void CountExecution(int size) const { model_.statistics.RecordExecution(method_, size); }

  StatusOr<PreprocessedImage> Prepare() const {
    return PrepareInput(image_, model_, preprocessor_, keep_original_);
  }
  const ServableModel& model() const { return model_; }

 private:
  const ServableModel& model_;
  const ImagePreprocessor& preprocessor_;
  const char* method_;
  const std::string key_;
  const ImageRef image_;
  const bool keep_original_;
  const Clock::time_point deadline_;
  const CancelledFn cancelled_;
  const Explainer::Callback<Result> done_;
};

// Runs a batch of `Job`s (RequestJob<Result> subclasses): prepares every input (a bad
// one fails its own request only), stacks the rest into one [B,C,H,W] tensor, and answers
// each job with what `compute(instance, input, jobs, prepared)` returns for it: one
// StatusOr<Result> per job, in order.
template <typename Job, typename Result, typename Compute>
void RunJobs(std::vector<std::unique_ptr<BatchJob>>& batch, Compute compute) {
  const Clock::time_point started = Clock::now();
  std::vector<Job*> jobs;
  std::vector<PreprocessedImage> prepared;
  for (auto& item : batch) {
    Job* job = static_cast<Job*>(item.get());
    StatusOr<PreprocessedImage> input = InternalError("preprocessing failed");
    try {
      input = job->Prepare();
    } catch (const std::exception& e) {
      input = InternalError(std::string("preprocessing failed: ") + e.what());
    }
    if (!input.ok()) {
      job->Answer(input.status(), started);
      continue;
    }
    jobs.push_back(job);
    prepared.push_back(std::move(*input));
  }
  if (jobs.empty()) return;
  const ServableModel& model = jobs[0]->model();
  const int size = static_cast<int>(jobs.size());
  std::vector<StatusOr<Result>> results;
  try {
    StatusOr<ModelPool::Handle> instance = model.pool->Acquire();
    if (instance.ok()) {
      std::vector<at::Tensor> inputs;
      for (const PreprocessedImage& p : prepared) inputs.push_back(p.input);
      results = compute(*instance, size == 1 ? inputs[0] : at::cat(inputs), jobs, prepared);
    } else {
      results.assign(jobs.size(), instance.status());
    }
  } catch (const std::exception& e) {
    results.assign(jobs.size(), InternalError(model.display_name() + ": batch of " +
                                              std::to_string(size) + " failed: " + e.what()));
  }
  // Counted before answering, so that a caller that reads statistics after its answer
  // sees its batch.
  jobs[0]->CountExecution(size);
  for (int i = 0; i < size; ++i) jobs[i]->Answer(std::move(results[i]), started);
}

std::vector<LabeledScore> Labeled(const ServableModel& model,
                                  const std::vector<ClassScore>& scores) {
  std::vector<LabeledScore> out;
  out.reserve(scores.size());
  for (const ClassScore& s : scores)
    out.push_back({s.index, model.Label(s.index), s.probability, s.logit});
  return out;
}

FloatTensor ToFloatTensor(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  FloatTensor out;
  out.shape.assign(c.sizes().begin(), c.sizes().end());
  out.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Up to five CAM layers of `model` closest to `name`, for error messages.
std::string ClosestCamLayers(const ServableModel& model, const std::string& name) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const LayerInfo& layer : model.layers) {
    if (layer.is_feature_map()) scored.emplace_back(EditDistance(name, layer.path), layer.path);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (size_t i = 0; i < scored.size() && i < 5; ++i) out += (i ? ", " : "") + scored[i].second;
  return out.empty() ? "(none)" : out;
}

// layers[i] of a request, checked: a module path of `model` with a 4-D output, not
// repeated. INVALID_ARGUMENT naming the field, with the closest CAM layers.
StatusOr<const LayerInfo*> FeatureLayerField(const ServableModel& model,
                                             const std::vector<std::string>& layers, size_t i) {
  const std::string& path = layers[i];
  const std::string field = "layers[" + std::to_string(i) + "] \"" + path + "\"";
  if (!IsValidModulePath(path)) {
    return InvalidArgumentError(field +
                                " is not a module path like \"layer4\" or \"features.7.0\"");
  }
  const LayerInfo* layer = model.FindLayer(path);
  if (layer == nullptr) {
    return InvalidArgumentError(field + " is not a module of " + model.display_name() +
                                "; closest CAM layers: " + ClosestCamLayers(model, path));
  }
  if (!layer->is_feature_map()) {
    return InvalidArgumentError(
        field + " outputs " +
        (layer->output_shape.empty() ? std::string("no single tensor")
                                     : ShapeToString(layer->output_shape)) +
        ", not a 4-D feature map; closest CAM layers: " + ClosestCamLayers(model, path));
  }
  if (std::find(layers.begin(), layers.begin() + i, path) != layers.begin() + i) {
    return InvalidArgumentError(field + " is repeated");
  }
  return layer;
}

}  // namespace

Status ValidateDecisionPath(const DecisionPathRequest& request, const ServableModel& model,
                            DecisionPathSpec* spec) {
  const int64_t classes = model.pool->num_classes();
  if (request.target_class < -1 || request.target_class >= classes) {
    return InvalidArgumentError("target_class = " + std::to_string(request.target_class) +
                                " is out of range: -1 (the top-1 class) or [0, " +
                                std::to_string(classes) + ")");
  }
  spec->target = request.target_class;
  spec->layers = request.layers.empty() ? model.default_path_layers : request.layers;
  if (spec->layers.empty()) {
    return InvalidArgumentError(model.display_name() +
                                " has no default path layers; name them in layers");
  }
  if (static_cast<int>(spec->layers.size()) > kMaxPathLayers) {
    return InvalidArgumentError("layers has " + std::to_string(spec->layers.size()) +
                                " entries; at most " + std::to_string(kMaxPathLayers));
  }
  for (size_t i = 0; i < spec->layers.size(); ++i) {
    XAI_ASSIGN_OR_RETURN(const LayerInfo* layer, FeatureLayerField(model, spec->layers, i));
    if (i > 0 &&
        layer->completion_order <= model.FindLayer(spec->layers[i - 1])->completion_order) {
      return InvalidArgumentError("layers[" + std::to_string(i) + "] \"" + spec->layers[i] +
                                  "\" runs before layers[" + std::to_string(i - 1) + "] \"" +
                                  spec->layers[i - 1] +
                                  "\"; list the layers shallow to deep, in execution order");
    }
  }
  const float t = request.threshold;
  if (!std::isfinite(t) || t < 0 || t > 1) {
    return InvalidArgumentError(
        "threshold must be in (0, 1] (0: " + std::to_string(kDefaultPathThreshold) + "), got " +
        std::to_string(t));
  }
  spec->threshold = t == 0 ? kDefaultPathThreshold : t;
  if (request.max_channels < 0 || request.max_channels > kMaxPathChannels) {
    return InvalidArgumentError("max_channels must be in [0, " + std::to_string(kMaxPathChannels) +
                                "] (0: " + std::to_string(kDefaultPathChannels) + "), got " +
                                std::to_string(request.max_channels));
  }
  spec->max_channels = request.max_channels == 0 ? kDefaultPathChannels : request.max_channels;
  if (request.top_chains < 0 || request.top_chains > kMaxPathChains) {
    return InvalidArgumentError("top_chains must be in [0, " + std::to_string(kMaxPathChains) +
                                "] (0: " + std::to_string(kDefaultPathChains) + "), got " +
                                std::to_string(request.top_chains));
  }
  spec->top_chains = request.top_chains == 0 ? kDefaultPathChains : request.top_chains;
  spec->keep_maps = request.render || request.return_maps;
  return OkStatus();
}

Status ValidateGradCam(const GradCamRequest& request, const ServableModel& model,
                       const ExplainerOptions& options, GradCamSpec* spec) {
  const int method = request.method == 0 ? static_cast<int>(CamMethod::kGradCam) : request.method;
  if (method < 1 || method > static_cast<int>(CamMethod::kAblationCam)) {
    return InvalidArgumentError("method " + std::to_string(request.method) +
                                " is not a CamMethod (1 GRAD_CAM ... 9 ABLATION_CAM)");
  }
  spec->method = static_cast<CamMethod>(method);
  if (!IsGradientMethod(spec->method)) {
    return UnimplementedError("method " + std::string(CamMethodName(spec->method)) +
                              " is not served yet; served: GRAD_CAM, GRAD_CAM_PLUS_PLUS, "
                              "XGRAD_CAM, HIRES_CAM, LAYER_CAM");
  }
  spec->layers = request.layers;
  if (spec->layers.empty()) {
    if (model.default_cam_layer.empty()) {
      return InvalidArgumentError(model.display_name() +
                                  " has no layer with a 4-D output to explain");
    }
    spec->layers.push_back(model.default_cam_layer);
  }
  if (static_cast<int>(spec->layers.size()) > options.max_cam_layers) {
    return InvalidArgumentError("layers has " + std::to_string(spec->layers.size()) +
                                " entries; at most " + std::to_string(options.max_cam_layers));
  }
  int earliest = -1;
  for (size_t i = 0; i < spec->layers.size(); ++i) {
    XAI_ASSIGN_OR_RETURN(const LayerInfo* layer, FeatureLayerField(model, spec->layers, i));
    if (earliest < 0 ||
        layer->completion_order < model.FindLayer(spec->layers[earliest])->completion_order) {
      earliest = static_cast<int>(i);
    }
  }
  spec->cut = static_cast<size_t>(earliest);
  const int64_t classes = model.pool->num_classes();
  if (static_cast<int>(request.target_classes.size()) > options.max_targets) {
    return InvalidArgumentError("target_classes has " +
                                std::to_string(request.target_classes.size()) +
                                " entries; at most " + std::to_string(options.max_targets));
  }
  for (size_t i = 0; i < request.target_classes.size(); ++i) {
    const int target = request.target_classes[i];
    if (target < 0 || target >= classes) {
      return InvalidArgumentError("target_classes[" + std::to_string(i) +
                                  "] = " + std::to_string(target) + " is out of range [0, " +
                                  std::to_string(classes) + ")");
    }
  }
  spec->targets = request.target_classes;
  const float w = request.overlay.image_weight;
  if (!std::isfinite(w) || w < 0 || w > 1) {
    return InvalidArgumentError("overlay.image_weight must be in [0, 1] (0: 0.5), got " +
                                std::to_string(w));
  }
  if (!ColormapByName(request.overlay.colormap)) {
    return InvalidArgumentError("overlay.colormap \"" + request.overlay.colormap +
                                "\" is not an OpenCV colormap; e.g. jet, turbo, viridis, inferno, "
                                "magma, plasma, hot, bone");
  }
  if (request.overlay.png_compression < 0 || request.overlay.png_compression > 9) {
    return InvalidArgumentError("overlay.png_compression must be in [0, 9] (0: 1), got " +
                                std::to_string(request.overlay.png_compression));
  }
  spec->height = model.input_shape[1];
  spec->width = model.input_shape[2];
  return OkStatus();
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

namespace {

class ClassifyJob : public RequestJob<ClassifyResult> {
 public:
  ClassifyJob(const ServableModel& model, const ImagePreprocessor& preprocessor,
              ClassifyRequest request, Explainer::Callback<ClassifyResult> done)
      : RequestJob(model, preprocessor, "Classify", "Classify", request.image,
                   /*keep_original=*/false, request.deadline, std::move(request.cancelled),
                   std::move(done)),
        top_k_(request.top_k == 0 ? kDefaultTopK : request.top_k) {}

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<ClassifyJob, ClassifyResult>(
        batch, [](ModelPool::Handle& instance, const at::Tensor& input,
                  const std::vector<ClassifyJob*>& jobs, const std::vector<PreprocessedImage>&) {
          const ServableModel& model = jobs[0]->model();
          std::vector<StatusOr<ClassifyResult>> results;
          StatusOr<at::Tensor> logits = ForwardLogits(instance, input);
          if (!logits.ok()) {
            results.assign(jobs.size(), logits.status().WithContext(model.display_name()));
            return results;
          }
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(
                ClassifyResult{{model.name, model.version},
                               Labeled(model, TopClasses((*logits)[b], jobs[b]->top_k_))});
          }
          return results;
        });
  }

 private:
  const int top_k_;
};

class GradCamJob : public RequestJob<GradCamResult> {
 public:
  // Requests share a batch when they ask for the same method at the same layers.
  static std::string Key(const GradCamSpec& spec) {
    std::string key = "GradCAM/" + std::to_string(static_cast<int>(spec.method)) + "/";
    for (const std::string& layer : spec.layers) key += layer + ",";
    return key;
  }

  GradCamJob(const ServableModel& model, const ImagePreprocessor& preprocessor,
             GradCamRequest request, GradCamSpec spec, Explainer::Callback<GradCamResult> done)
      : RequestJob(model, preprocessor, "GradCAM", Key(spec), request.image,
                   /*keep_original=*/request.overlay.enabled && !request.overlay.model_input_size,
                   request.deadline, std::move(request.cancelled), std::move(done)),
        spec_(std::move(spec)),
        overlay_(request.overlay) {
    style_.image_weight = overlay_.image_weight == 0 ? 0.5f : overlay_.image_weight;
    style_.colormap = ColormapByName(overlay_.colormap).value_or(cv::COLORMAP_JET);
    style_.png_compression = overlay_.png_compression == 0 ? 1 : overlay_.png_compression;
  }

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<GradCamJob, GradCamResult>(
        batch,
        [](ModelPool::Handle& instance, const at::Tensor& input,
           const std::vector<GradCamJob*>& jobs, const std::vector<PreprocessedImage>& prepared) {
          const ServableModel& model = jobs[0]->model();
          std::vector<std::vector<int>> targets;
          for (const GradCamJob* job : jobs) targets.push_back(job->spec_.targets);
          std::vector<StatusOr<GradCamResult>> results;
          auto cams = RunGradCamBatch(instance, input, jobs[0]->spec_, targets);
          if (!cams.ok()) {
            results.assign(jobs.size(), cams.status().WithContext(model.display_name()));
            return results;
          }
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(jobs[b]->Assemble((*cams)[b], input[b].unsqueeze(0), prepared[b]));
          }
          return results;
        });
  }

 private:
  StatusOr<GradCamResult> Assemble(const GradCamOutput& cams, const at::Tensor& input,
                                   const PreprocessedImage& prepared) const {
    const ServableModel& model = this->model();
    GradCamResult result;
    result.model = {model.name, model.version};
    result.classes = Labeled(model, TopClasses(cams.logits, kDefaultTopK));
    for (const CamOutput& cam : cams.explanations) {
      CamExplanation explanation{cam.target, ToFloatTensor(cam.cam), ToFloatTensor(cam.raw), ""};
      if (overlay_.enabled) {
        XAI_ASSIGN_OR_RETURN(explanation.overlay_png, Overlay(cam.cam, input, prepared, model,
                                                              overlay_.model_input_size, style_));
      }
      result.explanations.push_back(std::move(explanation));
    }
    return result;
  }

  const GradCamSpec spec_;
  const OverlaySpec overlay_;
  OverlayStyle style_;
};

class DecisionPathJob : public RequestJob<DecisionPathResult> {
 public:
  DecisionPathJob(const ServableModel& model, const ImagePreprocessor& preprocessor,
                  DecisionPathRequest request, DecisionPathSpec spec,
                  Explainer::Callback<DecisionPathResult> done)
      : RequestJob(model, preprocessor, "DecisionPath", "DecisionPath", request.image,
                   /*keep_original=*/false, request.deadline, std::move(request.cancelled),
                   std::move(done)),
        spec_(std::move(spec)),
        render_(request.render),
        return_maps_(request.return_maps) {}

  // Requests queued together run one after the other on the instance: each needs its own
  // backwards, so a batch would save only the forward.
  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<DecisionPathJob, DecisionPathResult>(
        batch,
        [](ModelPool::Handle& instance, const at::Tensor& input,
           const std::vector<DecisionPathJob*>& jobs, const std::vector<PreprocessedImage>&) {
          std::vector<StatusOr<DecisionPathResult>> results;
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(jobs[b]->Run(instance, input.slice(0, b, b + 1)));
          }
          return results;
        });
  }

 private:
  StatusOr<DecisionPathResult> Run(ModelPool::Handle& instance, const at::Tensor& input) const {
    const ServableModel& model = this->model();
    auto path = RunDecisionPath(instance, input, spec_);
    if (!path.ok()) return path.status().WithContext(model.display_name());
    DecisionPathResult result;
    result.model = {model.name, model.version};
    result.classes = Labeled(model, TopClasses(path->logits, kDefaultTopK));
    result.target_class = path->target;
    result.layers = spec_.layers;
    for (const PathNodeResult& n : path->nodes) {
      result.nodes.push_back({n.layer, n.channel, n.relevance, n.share,
                              return_maps_ ? ToFloatTensor(n.map) : FloatTensor{}});
    }
    result.edges = path->edges;
    for (const PathChainResult& c : path->chains) {
      result.chains.push_back({c.channels, static_cast<float>(c.log_score)});
    }
    if (model.path_profile &&
        std::equal(spec_.layers.begin(), spec_.layers.end(), model.path_profile->layers().begin(),
                   model.path_profile->layers().end())) {
      std::vector<std::vector<int>> sets(spec_.layers.size());
      for (const PathNode& n : result.nodes) sets[n.layer].push_back(n.channel);
      result.profile_similarity = ProfileSimilarity(*model.path_profile, result.target_class, sets);
      float sum = 0;
      for (float s : result.profile_similarity) sum += s;
      if (!result.profile_similarity.empty())
        result.profile_similarity_mean = sum / result.profile_similarity.size();
    }
    if (render_) {
      XAI_ASSIGN_OR_RETURN(result.diagram_png, Diagram(*path, input, result));
    }
    return result;
  }

  StatusOr<std::string> Diagram(const DecisionPathOutput& path, const at::Tensor& input,
                                const DecisionPathResult& result) const {
    const ServableModel& model = this->model();
    DiagramSpec diagram;
    try {
      diagram.image = InputAsBgr8(input, model);
      diagram.layers = result.layers;
      for (const PathNodeResult& n : path.nodes) {
        const at::Tensor map = n.map.contiguous();
        diagram.nodes.push_back(
            {n.layer, n.channel, n.share,
             cv::Mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32F,
                     const_cast<float*>(map.data_ptr<float>()))
                 .clone()});
      }
    } catch (const std::exception& e) {
      return InternalError(std::string("diagram: ") + e.what());
    }
    diagram.edges = result.edges;
    if (!result.chains.empty()) diagram.best_chain = result.chains[0].channels;
    const std::string& label = model.Label(result.target_class);
    char text[160];
    const float probability = at::softmax(path.logits, 0)[result.target_class].item<float>();
    std::snprintf(text, sizeof(text), "%s (class %d), p = %.2f",
                  label.empty() ? "class" : label.c_str(), result.target_class, probability);
    diagram.class_text = text;
    return RenderPathDiagramPng(diagram);
  }

  const DecisionPathSpec spec_;
  const bool render_;
  const bool return_maps_;
};

// Checks `request` against `model` with `validate(request, model, &spec)` and queues a Job
// on the model's scheduler; answers `done` at once when the model or the request is bad.
template <typename Job, typename Spec, typename Request, typename Result, typename Validate>
void ValidateAndQueue(const StatusOr<std::shared_ptr<const ServableModel>>& model,
                      const ImagePreprocessor& preprocessor, Request request,
                      Explainer::Callback<Result> done, Validate validate) {
  if (!model.ok()) {
    done(model.status());
    return;
  }
  Spec spec;
  if (Status valid = validate(request, **model, &spec); !valid.ok()) {
    done(valid);
    return;
  }
  const ServableModel& servable = **model;
  servable.scheduler->Enqueue(std::make_unique<Job>(servable, preprocessor, std::move(request),
                                                    std::move(spec), std::move(done)));
}

}  // namespace

StatusOr<std::shared_ptr<const ServableModel>> Explainer::ServingModel(const ModelRef& ref) const {
  if (stopping_) return UnavailableError("the server is shutting down");
  return repository_->Get(ref.name, ref.version);
}

void Explainer::DecisionPath(DecisionPathRequest request, Callback<DecisionPathResult> done) {
  const auto model = ServingModel(request.model);
  ValidateAndQueue<DecisionPathJob, DecisionPathSpec>(model, *preprocessor_, std::move(request),
                                                      std::move(done), ValidateDecisionPath);
}

void Explainer::Classify(ClassifyRequest request, Callback<ClassifyResult> done) {
  if (request.top_k < 0) {
    done(InvalidArgumentError("top_k must be >= 0 (0: " + std::to_string(kDefaultTopK) + "), got " +
                              std::to_string(request.top_k)));
    return;
  }
  auto model = ServingModel(request.model);
  if (!model.ok()) {
    done(model.status());
    return;
  }
  const ServableModel& servable = **model;
  servable.scheduler->Enqueue(
      std::make_unique<ClassifyJob>(servable, *preprocessor_, std::move(request), std::move(done)));
}

void Explainer::GradCam(GradCamRequest request, Callback<GradCamResult> done) {
  const auto model = ServingModel(request.model);
  ValidateAndQueue<GradCamJob, GradCamSpec>(
      model, *preprocessor_, std::move(request), std::move(done),
      [this](const GradCamRequest& r, const ServableModel& m, GradCamSpec* spec) {
        return ValidateGradCam(r, m, options_, spec);
      });
}

}  // namespace xai::core
