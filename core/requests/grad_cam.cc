#include "core/requests/grad_cam.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "core/base/quote.h"
#include "core/base/strings.h"
#include "core/image/overlay.h"
#include "core/methods/cam/cam_methods.h"
#include "core/methods/cam/grad_cam.h"
#include "core/methods/faithfulness/faithfulness.h"
#include "core/requests/request_job.h"

namespace xai::core {
namespace {

constexpr int kDefaultPerturbationBatch = 64;  // pytorch-grad-cam's ScoreCAM uses 16

// xai.v1.OverlayScale.
enum OverlayScale { kScalePerMap = 0, kScaleShared = 1, kScaleFixed = 2 };

// One target's overlay scale: its raw map's peak, the raw value drawn red, and what its
// `cam` (scaled to its own maximum) is multiplied by: 1 (SCALE_PER_MAP: red is the peak);
// the peak over the largest of the request's (SCALE_SHARED); the peak over scale_max, the
// result clipped to 1 (SCALE_FIXED).
struct OverlayScaleOf {
  float peak = 0;
  float red = 0;
  float factor = 1;
};

std::vector<OverlayScaleOf> OverlayScales(const OverlaySpec& overlay,
                                          const std::vector<CamOutput>& cams) {
  std::vector<OverlayScaleOf> scales;
  float largest = 0;
  for (const CamOutput& cam : cams) {
    const float peak = cam.raw.max().item<float>();
    scales.push_back({peak, peak, 1});
    largest = std::max(largest, peak);
  }
  if (overlay.scale == kScalePerMap) return scales;
  const float red = overlay.scale == kScaleFixed ? overlay.scale_max : largest;
  for (OverlayScaleOf& s : scales) {
    s.red = red;
    s.factor = red > 0 ? s.peak / red : 0.0f;
  }
  return scales;
}

class GradCamJob : public RequestJob<GradCamResult> {
 public:
  // Requests share a batch when they ask for the same method at the same layers. A request
  // of a perturbation method, or with metrics, runs alone: its own batches of perturbed
  // forwards fill the instance, and it stops at its own deadline.
  static BatchKey Key(const GradCamSpec& spec, const MetricsRequest& metrics) {
    static std::atomic<uint64_t> alone{0};
    const bool perturbed = FindPerturbationCamMethod(spec.method) != nullptr || metrics.enabled;
    std::string key = (perturbed ? "alone" + std::to_string(alone++) + "/" : std::string()) +
                      std::to_string(static_cast<int>(spec.method)) +
                      (spec.eigen_smooth ? "/eigen_smooth" : "") +
                      (spec.aug_smooth ? "/aug_smooth/" : "/");
    for (size_t l = 0; l < spec.layers.size(); ++l) {
      key += spec.layers[l] + "=" + spec.layouts[l].ToString() + ",";
    }
    return BatchKey::Of<GradCamJob>(std::move(key));
  }

  GradCamJob(std::shared_ptr<const ServableModel> model, const RequestEnvironment& environment,
             GradCamRequest request, GradCamSpec spec, RequestCallback<GradCamResult> done)
      : RequestJob(std::move(model), environment, "GradCAM", Key(spec, request.metrics),
                   request.image,
                   /*keep_original=*/request.overlay.enabled && !request.overlay.model_input_size,
                   std::move(request.context), std::move(done)),
        spec_(std::move(spec)),
        overlay_(request.overlay),
        metrics_(request.metrics) {
    style_.image_weight = overlay_.image_weight;
    style_.colormap = ColormapByName(overlay_.colormap).value_or(cv::COLORMAP_JET);
    style_.png_compression = overlay_.png_compression == 0 ? 1 : overlay_.png_compression;
  }

  std::string MethodLabel() const override { return std::string(CamMethodName(spec_.method)); }

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<GradCamJob, GradCamResult>(
        batch,
        [](ModelPool::Handle& instance, const at::Tensor& input,
           const std::vector<GradCamJob*>& jobs, const std::vector<PreprocessedImage>& prepared) {
          const ServableModel& model = jobs[0]->model();
          std::vector<std::vector<int>> targets;
          for (const GradCamJob* job : jobs) targets.push_back(job->spec_.targets);
          std::vector<StatusOr<GradCamResult>> results;
          GradCamSpec spec = jobs[0]->spec_;
          if (jobs.size() == 1) {
            const GradCamJob* job = jobs[0];
            spec.interrupted = [job] { return job->Interrupted("the perturbed forwards"); };
          }
          auto cams = RunGradCamBatch(instance, input, spec, targets);
          if (!cams.ok()) {
            results.assign(jobs.size(), cams.status().WithContext(model.display_name()));
            return results;
          }
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(
                jobs[b]->Assemble(instance, (*cams)[b], input[b].unsqueeze(0), prepared[b]));
          }
          return results;
        });
  }

 private:
  // Whether the work must stop between batches of forwards (of `what`).
  Status Interrupted(const std::string& what) const {
    if (Clock::now() >= deadline()) {
      return DeadlineExceededError(std::string(CamMethodName(spec_.method)) +
                                   ": the deadline passed during " + what);
    }
    if (cancelled()) return CancelledError("the caller cancelled the request");
    return OkStatus();
  }

  // The metrics of every map (one job: a request with metrics runs alone).
  Status ScoreFaithfulness(ModelPool::Handle& instance, const GradCamOutput& cams,
                           const at::Tensor& input, GradCamResult* result) const {
    std::vector<ScoredMap> maps;
    for (const CamOutput& cam : cams.explanations) maps.push_back({cam.target, cam.cam});
    XAI_ASSIGN_OR_RETURN(
        auto scores,
        ScoreMaps(instance, input, maps, FaithfulnessSpecOf(metrics_, spec_.batch_size, [this] {
                    return Interrupted("the metrics' forwards");
                  })));
    for (size_t i = 0; i < scores.size(); ++i) {
      result->explanations[i].metrics = std::move(scores[i]);
    }
    return OkStatus();
  }

  // What the overlay PNG says of itself (its tEXt Description): the method, the target, the
  // layers and the raw value its red stands for.
  std::string OverlayDescription(int target, const OverlayScaleOf& scale) const {
    const std::string& label = model().Label(target);
    const std::string layers = Join(spec_.layers, "+");
    const std::string this_peak = "; this map's raw peak is " + FormatSignificant(scale.peak);
    std::string red = "raw " + FormatSignificant(scale.red);
    if (overlay_.scale == kScaleShared) {
      red += ", the largest raw peak of the request's targets" + this_peak;
    } else if (overlay_.scale == kScaleFixed) {
      red += ", the request's scale_max" + this_peak;
    } else {
      red += ", this map's maximum";
    }
    return std::string(CamMethodName(spec_.method)) + " of class " + std::to_string(target) +
           (label.empty() ? "" : " (" + label + ")") + " at " + layers +
           ". Colours: " + (overlay_.colormap.empty() ? std::string("jet") : overlay_.colormap) +
           ", from its lowest (raw minimum) to red (" + red + ").";
  }

  StatusOr<GradCamResult> Assemble(ModelPool::Handle& instance, const GradCamOutput& cams,
                                   const at::Tensor& input,
                                   const PreprocessedImage& prepared) const {
    const ServableModel& model = this->model();
    GradCamResult result;
    result.model = {model.name, model.version};
    result.layers = spec_.layers;
    auto top = TopClasses(cams.logits, kDefaultTopK);
    if (!top.ok()) return top.status().WithContext(model.display_name());
    result.classes = Labeled(model, std::move(*top));
    const std::vector<OverlayScaleOf> scales = overlay_.enabled
                                                   ? OverlayScales(overlay_, cams.explanations)
                                                   : std::vector<OverlayScaleOf>();
    for (size_t t = 0; t < cams.explanations.size(); ++t) {
      const CamOutput& cam = cams.explanations[t];
      if (!at::isfinite(cam.raw).all().item<bool>()) {
        return InternalError(model.display_name() + ": the map for class " +
                             std::to_string(cam.target) +
                             " holds NaN or infinite values (the model's gradients are not "
                             "finite for this input)");
      }
      CamExplanation explanation{cam.target, ToFloatTensor(cam.cam), ToFloatTensor(cam.raw), "",
                                 std::nullopt};
      if (overlay_.enabled) {
        const float factor = scales[t].factor;
        const at::Tensor drawn = factor == 1.0f ? cam.cam : (cam.cam * factor).clamp(0.0, 1.0);
        OverlayStyle style = style_;
        style.description = OverlayDescription(cam.target, scales[t]);
        XAI_ASSIGN_OR_RETURN(
            explanation.overlay_png,
            RenderOnImage({drawn}, input, prepared, model, overlay_.model_input_size,
                          [&style](const cv::Mat& image, const std::vector<cv::Mat>& maps) {
                            return RenderOverlayPng(image, maps[0], style);
                          }));
      }
      result.explanations.push_back(std::move(explanation));
    }
    if (metrics_.enabled) {
      const Status scored = ScoreFaithfulness(instance, cams, input, &result);
      if (!scored.ok()) return scored.WithContext(model.display_name());
    }
    return result;
  }

  const GradCamSpec spec_;
  const OverlaySpec overlay_;
  const MetricsRequest metrics_;
  OverlayStyle style_;
};

Status CheckOverlayScale(const OverlaySpec& overlay, size_t layers) {
  if (overlay.scale < kScalePerMap || overlay.scale > kScaleFixed) {
    return InvalidArgumentError("overlay.scale " + std::to_string(overlay.scale) +
                                " is not an OverlayScale (0 SCALE_PER_MAP, 1 SCALE_SHARED, "
                                "2 SCALE_FIXED)");
  }
  if (overlay.scale == kScaleFixed) {
    if (!std::isfinite(overlay.scale_max) || overlay.scale_max <= 0) {
      return InvalidArgumentError(
          "overlay.scale SCALE_FIXED needs overlay.scale_max > 0 (the raw value drawn at full "
          "strength, e.g. the largest raw peak of the maps to compare), got " +
          std::to_string(overlay.scale_max));
    }
  } else if (overlay.scale_max != 0) {
    return InvalidArgumentError("overlay.scale_max applies to overlay.scale SCALE_FIXED only");
  }
  if (overlay.scale != kScalePerMap && layers > 1) {
    return InvalidArgumentError(
        "overlay.scale SCALE_SHARED and SCALE_FIXED need one layer: the maps of several layers "
        "are each scaled to [0, 1] before they are averaged, so their combination has no raw "
        "unit to share; ask one layer, or SCALE_PER_MAP");
  }
  return OkStatus();
}

}  // namespace

Status ValidateGradCam(const GradCamRequest& request, const ServableModel& model,
                       const RequestEnvironment& environment, GradCamSpec* spec) {
  const std::optional<CamMethod> method =
      request.method == CamMethod::kUnspecified
          ? CamMethod::kGradCam
          : CamMethodFromNumber(static_cast<int>(request.method));
  if (!method) {
    return InvalidArgumentError("method " + std::to_string(static_cast<int>(request.method)) +
                                " is not a CamMethod (1 GRAD_CAM ... 9 ABLATION_CAM)");
  }
  spec->method = *method;
  spec->eigen_smooth = request.eigen_smooth;
  spec->aug_smooth = request.aug_smooth;
  if (!IsServed(spec->method)) {
    return UnimplementedError("method " + std::string(CamMethodName(spec->method)) +
                              " is not served yet; served: " + ServedCamMethodNames());
  }
  XAI_ASSIGN_OR_RETURN(spec->batch_size,
                       BatchSizeField(request.batch_size, kDefaultPerturbationBatch,
                                      environment.max_perturbation_batch));
  XAI_RETURN_IF_ERROR(CheckMetrics(request.metrics));
  spec->layers = request.layers;
  if (spec->layers.empty()) {
    if (model.default_cam_layer.empty()) {
      return FailedPreconditionError(
          model.display_name() + " has no default CAM layer: " + model.default_cam_layer_problem);
    }
    spec->layers.push_back(model.default_cam_layer);
  }
  if (static_cast<int>(spec->layers.size()) > environment.max_cam_layers) {
    return InvalidArgumentError("layers has " + std::to_string(spec->layers.size()) +
                                " entries; at most " + std::to_string(environment.max_cam_layers));
  }
  const auto& overrides = request.layer_layouts;
  for (size_t j = 0; j < overrides.size(); ++j) {
    const std::string field = "layer_layouts[" + std::to_string(j) + "]";
    if (std::find(spec->layers.begin(), spec->layers.end(), overrides[j].layer) ==
        spec->layers.end()) {
      return InvalidArgumentError(field + " names " + QuoteInput(overrides[j].layer) +
                                  ", which is not one of the request's layers");
    }
    for (size_t k = 0; k < j; ++k) {
      if (overrides[k].layer == overrides[j].layer) {
        return InvalidArgumentError(field + " repeats the layer " + QuoteInput(overrides[j].layer));
      }
    }
    const Status checked = CheckLayoutDeclaration(overrides[j].layout);
    if (!checked.ok()) return InvalidArgumentError(field + ": " + checked.message());
  }
  int earliest = -1;
  spec->layouts.clear();
  for (size_t i = 0; i < spec->layers.size(); ++i) {
    const auto declared = std::find_if(overrides.begin(), overrides.end(),
                                       [&](const auto& o) { return o.layer == spec->layers[i]; });
    const LayerInfo* layer = nullptr;
    if (declared != overrides.end() && declared->layout.kind != FeatureLayout::kNone) {
      XAI_ASSIGN_OR_RETURN(layer, LayerField(model, spec->layers, i));
      StatusOr<LayerLayout> layout = ApplyDeclaration(layer->output_shape, declared->layout,
                                                      model.input_shape[1], model.input_shape[2]);
      if (!layout.ok()) {
        return InvalidArgumentError("layer_layouts[" +
                                    std::to_string(declared - overrides.begin()) + "] for layer " +
                                    QuoteInput(layer->path) + ": " + layout.status().message());
      }
      spec->layouts.push_back(*layout);
    } else {
      XAI_ASSIGN_OR_RETURN(layer, FeatureLayerField(model, spec->layers, i));
      spec->layouts.push_back(layer->layout);
    }
    if (earliest < 0 ||
        layer->completion_order < model.FindLayer(spec->layers[earliest])->completion_order) {
      earliest = static_cast<int>(i);
    }
  }
  spec->cut = static_cast<size_t>(earliest);
  XAI_RETURN_IF_ERROR(CheckTargetClasses(request.target_classes, model, environment));
  spec->targets = request.target_classes;
  XAI_RETURN_IF_ERROR(CheckOverlay(request.overlay));
  if (request.overlay.attribution.set) {
    return InvalidArgumentError("overlay.attribution applies to Attribute only");
  }
  XAI_RETURN_IF_ERROR(CheckOverlayScale(request.overlay, spec->layers.size()));
  spec->height = model.input_shape[1];
  spec->width = model.input_shape[2];
  return OkStatus();
}

void QueueGradCam(const RequestEnvironment& environment, const ServingFn& serving,
                  GradCamRequest request, RequestCallback<GradCamResult> done) {
  const auto version = serving(request.model);
  ValidateAndQueue<GradCamJob, GradCamSpec>(
      version, environment, std::move(request), std::move(done),
      [&environment](const GradCamRequest& r, const ServableModel& m, GradCamSpec* spec) {
        return ValidateGradCam(r, m, environment, spec);
      });
}

}  // namespace xai::core
