#include "core/requests/attribute.h"

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>

#include "core/base/strings.h"
#include "core/image/overlay.h"
#include "core/image/segmentation.h"
#include "core/methods/attribution/attribution.h"
#include "core/methods/classifier.h"
#include "core/methods/faithfulness/faithfulness.h"
#include "core/requests/request_job.h"
#include "core/requests/request_util.h"

namespace xai::core {
namespace {

struct AttributeSpec {
  AttributionSpec run;
  OverlaySpec overlay;
  MetricsRequest metrics;
  std::vector<BaselineKind> baselines;
  // The noise's standard deviation: absolute, or as a fraction of the input's max - min.
  float noise = 0;
  bool noise_absolute = false;
};

// The pixel value `value` (in [0,1]) in the model's input space, per channel: [C,1,1].
at::Tensor Normalised(const ServableModel& model, int64_t channels, float value) {
  const xai::v1::InputSpec& spec = model.config.input();
  at::Tensor out = at::full({channels, 1, 1}, value, at::kFloat);
  for (int64_t c = 0; c < channels; ++c) {
    const int i = static_cast<int>(c);
    const float mean = spec.mean_size() > 0 ? spec.mean(i) : 0.0f;
    const float std = spec.std_size() > 0 ? spec.std(i) : 1.0f;
    out[c].fill_((value - mean) / std);
  }
  return out;
}

// Uniform noise in [0,1) per pixel and channel, normalised as the model's input: a
// std::mt19937_64 seeded with `seed`, 53 bits per value, the same on every machine.
at::Tensor UniformNoise(const ServableModel& model, const at::Tensor& like, uint64_t seed) {
  std::mt19937_64 generator(seed);
  at::Tensor noise = at::empty(like.sizes(), at::kFloat);
  float* n = noise.data_ptr<float>();
  for (int64_t i = 0; i < noise.numel(); ++i) {
    n[i] = static_cast<float>(static_cast<double>(generator() >> 11) * 0x1.0p-53);
  }
  const int64_t channels = like.size(1);
  const at::Tensor zero = Normalised(model, channels, 0.0f);
  const at::Tensor one = Normalised(model, channels, 1.0f);
  return zero.unsqueeze(0) + noise * (one - zero).unsqueeze(0);
}

// What XRAI segments: the model input in pixel units, [3,H,W]. One channel is repeated;
// other counts are refused.
StatusOr<at::Tensor> InputImage(const ServableModel& model, const at::Tensor& input) {
  const int64_t channels = input.size(1);
  if (channels != 1 && channels != 3) {
    return InvalidArgumentError("XRAI segments images of 1 or 3 channels; this model takes " +
                                std::to_string(channels));
  }
  const at::Tensor image = InputPixels(input, model);
  return channels == 1 ? image.expand({3, -1, -1}).contiguous() : image;
}

at::Tensor MakeBaseline(BaselineKind kind, const ServableModel& model, const at::Tensor& input,
                        uint64_t seed) {
  const int64_t channels = input.size(1);
  switch (kind) {
    case BaselineKind::kBlack:
      return Normalised(model, channels, 0.0f).unsqueeze(0).expand_as(input).contiguous();
    case BaselineKind::kWhite:
      return Normalised(model, channels, 1.0f).unsqueeze(0).expand_as(input).contiguous();
    case BaselineKind::kBlur:
      return BlurredCopy(input);
    case BaselineKind::kUniformNoise:
      return UniformNoise(model, input, seed);
    default:
      return at::zeros_like(input);
  }
}

class AttributeJob : public RequestJob<AttributeResult> {
 public:
  static BatchKey Key() {
    static std::atomic<uint64_t> alone{0};
    return BatchKey::Of<AttributeJob>("alone" + std::to_string(alone++));
  }

  AttributeJob(std::shared_ptr<const ServableModel> model, const RequestEnvironment& environment,
               AttributeRequest request, AttributeSpec spec, RequestCallback<AttributeResult> done)
      : RequestJob(std::move(model), environment, "Attribute", Key(), request.image,
                   /*keep_original=*/request.overlay.enabled && !request.overlay.model_input_size,
                   std::move(request.context), std::move(done)),
        spec_(std::move(spec)) {}

  std::string MethodLabel() const override {
    return std::string(AttributionMethodName(spec_.run.method));
  }

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<AttributeJob, AttributeResult>(
        batch,
        [](ModelPool::Handle& instance, const at::Tensor& input,
           const std::vector<AttributeJob*>& jobs, const std::vector<PreprocessedImage>& prepared) {
          std::vector<StatusOr<AttributeResult>> results;
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(jobs[b]->Run(instance, input[b].unsqueeze(0), prepared[b]));
          }
          return results;
        });
  }

 private:
  Status Interrupted(const std::string& what) const {
    if (Clock::now() >= deadline()) {
      return DeadlineExceededError(std::string(AttributionMethodName(spec_.run.method)) +
                                   ": the deadline passed " + what);
    }
    if (cancelled()) return CancelledError("the caller cancelled the request");
    return OkStatus();
  }

  // What the overlay PNG says of itself (its tEXt Description): the method, the target and
  // what its colours stand for.
  std::string OverlayDescription(int target, const AttributionStyleSpec& a) const {
    const std::string& label = model().Label(target);
    const std::string sign =
        a.polarity == 2   ? "both signs (default colours: blue lowered the target's logit, red "
                            "raised it)"
        : a.polarity == 1 ? "the negative part (what lowered the target's logit)"
                          : "the positive part (what raised the target's logit)";
    return std::string(AttributionMethodName(spec_.run.method)) + " of class " +
           std::to_string(target) + (label.empty() ? "" : " (" + label + ")") + ". Drawn: " + sign +
           ", from nothing at its " + FormatSignificant(a.clip_lower_percentile) +
           "th percentile of magnitude to full strength at its " +
           FormatSignificant(a.clip_upper_percentile) + "th.";
  }

  // The overlay of one attribution's map ([H,W] at the model input), scaled at the model
  // input and drawn over the image; XRAI's top regions outlined.
  StatusOr<std::string> Overlay(const at::Tensor& map, const at::Tensor& input,
                                const PreprocessedImage& prepared, int target) const {
    const AttributionStyleSpec& a = spec_.overlay.attribution;
    AttributionStyle style;
    style.description = OverlayDescription(target, a);
    style.polarity = static_cast<AttributionPolarity>(a.polarity);
    style.kind = static_cast<AttributionOverlayKind>(a.kind);
    style.image_weight = spec_.overlay.image_weight;
    if (!spec_.overlay.colormap.empty()) style.colormap = ColormapByName(spec_.overlay.colormap);
    style.png_compression = spec_.overlay.png_compression == 0 ? 1 : spec_.overlay.png_compression;
    const at::Tensor values = map.to(at::kCPU, at::kFloat).contiguous();
    const cv::Mat mat(static_cast<int>(values.size(0)), static_cast<int>(values.size(1)), CV_32F,
                      const_cast<float*>(values.data_ptr<float>()));
    const cv::Mat scaled =
        ScaleAttribution(mat, style.polarity, a.clip_lower_percentile, a.clip_upper_percentile);
    std::vector<at::Tensor> maps = {
        at::from_blob(scaled.data, {scaled.rows, scaled.cols}, at::kFloat).clone()};
    if (spec_.run.method == AttributionMethod::kXrai) {
      // The top k% of pixels by the map (ties: the lower index), as 0/1 maps.
      const at::Tensor order =
          std::get<1>(at::sort(values.view({-1}), /*stable=*/true, 0, /*descending=*/true));
      const std::vector<float> percents =
          a.xrai_outlines.empty() ? std::vector<float>{10, 20, 30} : a.xrai_outlines;
      for (const float percent : percents) {
        const auto top = static_cast<int64_t>(std::llround(percent / 100.0 * values.numel()));
        at::Tensor inside = at::zeros({values.numel()}, at::kFloat);
        inside.index_fill_(0, order.narrow(0, 0, top), 1.0f);
        maps.push_back(inside.view(values.sizes()));
      }
    }
    return RenderOnImage(maps, input, prepared, model(), spec_.overlay.model_input_size,
                         [&style](const cv::Mat& image, const std::vector<cv::Mat>& drawn) {
                           std::vector<cv::Mat> outlines;
                           for (size_t i = 1; i < drawn.size(); ++i) {
                             outlines.push_back(drawn[i] > 0.5f);  // back to a mask
                           }
                           return RenderAttributionPng(image, drawn[0], style, outlines);
                         });
  }

  StatusOr<AttributeResult> Run(ModelPool::Handle& instance, const at::Tensor& input,
                                const PreprocessedImage& prepared) const {
    const ServableModel& model = this->model();
    std::vector<at::Tensor> baselines;
    for (size_t i = 0; i < spec_.baselines.size(); ++i) {
      baselines.push_back(MakeBaseline(spec_.baselines[i], model, input, spec_.run.seed + i));
    }
    AttributionSpec spec = spec_.run;
    spec.interrupted = [this] { return Interrupted("between batches of gradients"); };
    spec.seconds_left = [this] {
      return std::chrono::duration<double>(deadline() - Clock::now()).count();
    };
    if (spec.method == AttributionMethod::kXrai) {
      auto image = InputImage(model, input);
      if (!image.ok()) return image.status().WithContext(model.display_name());
      auto segments = XraiSegments(*image, SegmentationOptions());
      if (!segments.ok()) return segments.status().WithContext(model.display_name());
      spec.segments = std::move(*segments);
    }
    spec.noise_sigma = spec_.noise;
    if (!spec_.noise_absolute && spec_.noise > 0) {
      spec.noise_sigma = spec_.noise * (input.max() - input.min()).item<double>();
    }
    auto run = RunAttribution(instance, input, baselines, spec);
    if (!run.ok()) return run.status().WithContext(model.display_name());
    AttributeResult result;
    result.model = {model.name, model.version};
    auto top = TopClasses(run->logits, kDefaultTopK);
    if (!top.ok()) return top.status().WithContext(model.display_name());
    result.classes = Labeled(model, std::move(*top));
    std::vector<ScoredMap> maps;  // for the metrics
    for (const TargetAttribution& t : run->attributions) {
      const AttributionOutput& o = t.output;
      if (!at::isfinite(o.attribution).all().item<bool>()) {
        return InternalError(model.display_name() + ": the attribution for class " +
                             std::to_string(t.target) +
                             " holds NaN or infinite values (the model's gradients are not "
                             "finite for this input)");
      }
      PixelAttribution out;
      out.target_class = t.target;
      out.attribution = ToFloatTensor(o.attribution);
      const at::Tensor map = o.map.defined() ? o.map : o.attribution.sum(0);
      out.map = ToFloatTensor(map);
      if (spec_.overlay.enabled) {
        auto png = Overlay(map, input, prepared, t.target);
        if (!png.ok()) return png.status().WithContext(model.display_name());
        out.overlay_png = std::move(*png);
      }
      if (o.integrates) {
        const double gap = static_cast<double>(o.logit) - o.baseline_logit;
        out.logit = o.logit;
        out.baseline_logit = o.baseline_logit;
        out.convergence_delta = o.delta;
        out.steps = o.steps;
        out.approximation_error =
            static_cast<float>(std::abs(o.delta) / std::max(std::abs(gap), 1e-30));
        out.approximation_error_met = o.error_met;
        if (std::abs(gap) < kMeaningfulLogitGap) {
          out.warning = "|f(x) - f(baseline)| = " + std::to_string(std::abs(gap)) +
                        " is below 0.05: the approximation error means little here; choose "
                        "another baseline";
        } else if (o.adaptive && !o.error_met) {
          out.warning = "approximation_error " + std::to_string(out.approximation_error) +
                        " is above max_approximation_error " +
                        std::to_string(spec_.run.max_approximation_error) + " after " +
                        std::to_string(o.steps) + " steps: " + o.unmet_reason;
        }
      } else {
        out.logit = o.logit;
      }
      result.attributions.push_back(std::move(out));
      maps.push_back({t.target, map});
    }
    if (spec_.metrics.enabled) {
      auto scores = ScoreMaps(instance, input, maps,
                              FaithfulnessSpecOf(spec_.metrics, spec_.run.batch_size, [this] {
                                return Interrupted("during the metrics' forwards");
                              }));
      if (!scores.ok()) return scores.status().WithContext(model.display_name());
      for (size_t i = 0; i < scores->size(); ++i) {
        result.attributions[i].metrics = std::move((*scores)[i]);
      }
    }
    return result;
  }

  const AttributeSpec spec_;
};

// samples, noise_stdev, noise_stdev_absolute, smooth_grad_of: for SMOOTH_GRAD and
// GRADIENT_SHAP only. After the steps and baselines are known.
Status ValidateSampling(const AttributeRequest& request, AttributeSpec* spec) {
  const AttributionMethod method = spec->run.method;
  const bool smooth = method == AttributionMethod::kSmoothGrad;
  const bool sampled = smooth || method == AttributionMethod::kGradientShap;
  const std::string name(AttributionMethodName(method));
  if (!sampled &&
      (request.samples != 0 || request.noise_stdev != 0 || request.noise_stdev_absolute != 0)) {
    return InvalidArgumentError(std::string(request.samples != 0 ? "samples" : "noise_stdev") +
                                " applies to SMOOTH_GRAD and GRADIENT_SHAP only, not " + name);
  }
  if (request.samples < 0 || request.samples > kMaxSamples) {
    return InvalidArgumentError("samples must be in [1, " + std::to_string(kMaxSamples) +
                                "] (0: " + std::to_string(kDefaultSamples) + "), got " +
                                std::to_string(request.samples));
  }
  spec->run.samples = request.samples == 0 ? kDefaultSamples : request.samples;
  if (!std::isfinite(request.noise_stdev) || request.noise_stdev < 0 ||
      request.noise_stdev > kMaxNoiseFraction) {
    static_assert(kMaxNoiseFraction == 2.0f, "the message below says 2");
    return InvalidArgumentError(
        "noise_stdev (a fraction of the input's max - min) must be in [0, 2], got " +
        std::to_string(request.noise_stdev));
  }
  if (!std::isfinite(request.noise_stdev_absolute) || request.noise_stdev_absolute < 0 ||
      request.noise_stdev_absolute > 1e4f) {
    return InvalidArgumentError("noise_stdev_absolute must be in [0, 10000], got " +
                                std::to_string(request.noise_stdev_absolute));
  }
  if (request.noise_stdev > 0 && request.noise_stdev_absolute > 0) {
    return InvalidArgumentError("set noise_stdev (a fraction) or noise_stdev_absolute, not both");
  }
  spec->noise_absolute = request.noise_stdev_absolute > 0;
  spec->noise = spec->noise_absolute ? request.noise_stdev_absolute : request.noise_stdev;
  if (smooth && spec->noise == 0) spec->noise = kDefaultSmoothGradNoise;
  const auto of = static_cast<int>(request.smooth_grad_of);
  if (of != 0 && !smooth) {
    return InvalidArgumentError("smooth_grad_of applies to SMOOTH_GRAD only, not " + name);
  }
  const std::optional<AttributionMethod> smoothed =
      of == 0 ? AttributionMethod::kSaliency : AttributionMethodFromNumber(of);
  if (!smoothed || (*smoothed != AttributionMethod::kSaliency &&
                    *smoothed != AttributionMethod::kInputXGradient &&
                    *smoothed != AttributionMethod::kIntegratedGradients)) {
    return InvalidArgumentError(
        "smooth_grad_of must be SALIENCY (0, the default), INPUT_X_GRADIENT or "
        "INTEGRATED_GRADIENTS, got " +
        std::to_string(of));
  }
  spec->run.smoothed = *smoothed;
  if (smooth && *smoothed == AttributionMethod::kIntegratedGradients) {
    const int64_t points = static_cast<int64_t>(spec->run.samples) * spec->run.steps *
                           static_cast<int64_t>(spec->baselines.size());
    if (points > kMaxAttributionPoints) {
      return InvalidArgumentError(
          "samples x steps x baselines = " + std::to_string(points) +
          " gradients per target for SMOOTH_GRAD of INTEGRATED_GRADIENTS; at most " +
          std::to_string(kMaxAttributionPoints));
    }
  }
  return OkStatus();
}

Status ValidateOverlay(const OverlaySpec& overlay, AttributionMethod method) {
  XAI_RETURN_IF_ERROR(CheckOverlay(overlay));
  if (overlay.scale != 0 || overlay.scale_max != 0) {
    return InvalidArgumentError(
        "overlay.scale and overlay.scale_max apply to GradCAM: an attribution is drawn between "
        "percentiles of its own magnitude (overlay.attribution.clip_lower_percentile and "
        "clip_upper_percentile)");
  }
  const AttributionStyleSpec& a = overlay.attribution;
  if (a.polarity < 0 || a.polarity > 2) {
    return InvalidArgumentError("overlay.attribution.polarity " + std::to_string(a.polarity) +
                                " is not an AttributionPolarity (0 POSITIVE, 1 NEGATIVE, 2 BOTH)");
  }
  if (a.kind < 0 || a.kind > 2) {
    return InvalidArgumentError(
        "overlay.attribution.kind " + std::to_string(a.kind) +
        " is not an AttributionOverlayKind (0 OVER_IMAGE, 1 OVER_GRAYSCALE, 2 MASKED_IMAGE)");
  }
  const float upper = a.clip_upper_percentile, lower = a.clip_lower_percentile;
  if (!std::isfinite(upper) || upper <= 0 || upper > 100) {
    return InvalidArgumentError(
        "overlay.attribution.clip_upper_percentile must be in (0, 100] (unset: 99.9), got " +
        std::to_string(upper));
  }
  if (!std::isfinite(lower) || lower < 0 || lower >= upper) {
    return InvalidArgumentError(
        "overlay.attribution.clip_lower_percentile must be in [0, clip_upper_percentile " +
        std::to_string(upper) + "), got " + std::to_string(lower));
  }
  if (!a.xrai_outlines.empty() && method != AttributionMethod::kXrai) {
    return InvalidArgumentError("overlay.attribution.xrai_outlines applies to XRAI only, not " +
                                std::string(AttributionMethodName(method)));
  }
  if (a.xrai_outlines.size() > 5) {
    return InvalidArgumentError("overlay.attribution.xrai_outlines has " +
                                std::to_string(a.xrai_outlines.size()) + " entries; at most 5");
  }
  for (size_t i = 0; i < a.xrai_outlines.size(); ++i) {
    const float p = a.xrai_outlines[i];
    if (!std::isfinite(p) || p <= 0 || p > 100) {
      return InvalidArgumentError("overlay.attribution.xrai_outlines[" + std::to_string(i) +
                                  "] must be in (0, 100], got " + std::to_string(p));
    }
  }
  return OkStatus();
}

Status ValidateAttribute(const AttributeRequest& request, const ServableModel& model,
                         const RequestEnvironment& environment, AttributeSpec* spec) {
  const std::optional<AttributionMethod> method =
      AttributionMethodFromNumber(static_cast<int>(request.method));
  if (!method) {
    return InvalidArgumentError("method " + std::to_string(static_cast<int>(request.method)) +
                                " is not an AttributionMethod (1 SALIENCY ... 6 XRAI)");
  }
  if (FindAttributionMethod(*method) == nullptr) {
    return UnimplementedError("method " + std::string(AttributionMethodName(*method)) +
                              " is not served yet; served: " + ServedAttributionMethodNames());
  }
  spec->run.method = *method;
  const std::optional<IntegrationRule> rule =
      IntegrationRuleFromNumber(static_cast<int>(request.rule));
  if (!rule) {
    return InvalidArgumentError("rule " + std::to_string(static_cast<int>(request.rule)) +
                                " is not an IntegrationRule (0 GAUSS_LEGENDRE ... 4 "
                                "RIEMANN_TRAPEZOID)");
  }
  spec->run.rule = *rule;
  const int max_steps = environment.max_attribution_steps;
  const int min_steps = *rule == IntegrationRule::kRiemannTrapezoid ? 2 : 1;
  if (request.steps < 0 || (request.steps > 0 && request.steps < min_steps) ||
      request.steps > max_steps) {
    return InvalidArgumentError("steps must be in [" + std::to_string(min_steps) + ", " +
                                std::to_string(max_steps) +
                                "] (0: " + std::to_string(kDefaultAttributionSteps) + "), got " +
                                std::to_string(request.steps));
  }
  const float max_error = request.max_approximation_error;
  if (!std::isfinite(max_error) || max_error < 0 || max_error > 1) {
    return InvalidArgumentError("max_approximation_error must be in [0, 1] (0: fixed steps), got " +
                                std::to_string(max_error));
  }
  if (max_error > 0 && *method != AttributionMethod::kIntegratedGradients &&
      *method != AttributionMethod::kXrai) {
    return InvalidArgumentError(
        "max_approximation_error applies to INTEGRATED_GRADIENTS and XRAI only, not " +
        std::string(AttributionMethodName(*method)));
  }
  spec->run.max_approximation_error = max_error;
  spec->run.steps = request.steps != 0 ? request.steps
                    : max_error > 0    ? std::min(kDefaultAdaptiveStepCap, max_steps)
                                       : kDefaultAttributionSteps;
  XAI_ASSIGN_OR_RETURN(spec->run.batch_size,
                       BatchSizeField(request.batch_size, kDefaultAttributionBatch,
                                      environment.max_attribution_batch));
  if (static_cast<int>(request.baselines.size()) > kMaxBaselines) {
    return InvalidArgumentError("baselines has " + std::to_string(request.baselines.size()) +
                                " entries; at most " + std::to_string(kMaxBaselines));
  }
  for (size_t i = 0; i < request.baselines.size(); ++i) {
    const std::optional<BaselineKind> kind = BaselineKindFromNumber(request.baselines[i]);
    if (!kind) {
      return InvalidArgumentError("baselines[" + std::to_string(i) +
                                  "] = " + std::to_string(request.baselines[i]) +
                                  " is not a Baseline (1 ZERO ... 5 UNIFORM_NOISE)");
    }
    spec->baselines.push_back(*kind);
  }
  if (spec->baselines.empty() && *method == AttributionMethod::kXrai) {
    spec->baselines = {BaselineKind::kBlack, BaselineKind::kWhite};  // the reference's
  }
  if (spec->baselines.empty()) spec->baselines.push_back(BaselineKind::kZero);
  XAI_RETURN_IF_ERROR(ValidateSampling(request, spec));
  XAI_RETURN_IF_ERROR(ValidateOverlay(request.overlay, *method));
  XAI_RETURN_IF_ERROR(CheckMetrics(request.metrics));
  spec->metrics = request.metrics;
  spec->overlay = request.overlay;
  spec->run.seed = request.seed;
  XAI_RETURN_IF_ERROR(CheckTargetClasses(request.target_classes, model, environment));
  spec->run.targets = request.target_classes;
  return OkStatus();
}

}  // namespace

void QueueAttribute(const RequestEnvironment& environment, const ServingFn& serving,
                    AttributeRequest request, RequestCallback<AttributeResult> done) {
  const auto version = serving(request.model);
  ValidateAndQueue<AttributeJob, AttributeSpec>(
      version, environment, std::move(request), std::move(done),
      [&environment](const AttributeRequest& r, const ServableModel& m, AttributeSpec* spec) {
        return ValidateAttribute(r, m, environment, spec);
      });
}

}  // namespace xai::core
