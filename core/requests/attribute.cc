#include "core/requests/attribute.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <random>

#include "core/methods/attribution/attribution.h"
#include "core/methods/classifier.h"
#include "core/methods/faithfulness/faithfulness.h"
#include "core/requests/request_job.h"

namespace xai::core {
namespace {

struct AttributeSpec {
  AttributionSpec run;
  std::vector<BaselineKind> baselines;
  uint64_t seed = 0;
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
                   /*keep_original=*/false, std::move(request.context), std::move(done)),
        spec_(std::move(spec)) {}

  std::string MethodLabel() const override {
    return std::string(AttributionMethodName(spec_.run.method));
  }

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<AttributeJob, AttributeResult>(
        batch, [](ModelPool::Handle& instance, const at::Tensor& input,
                  const std::vector<AttributeJob*>& jobs, const std::vector<PreprocessedImage>&) {
          std::vector<StatusOr<AttributeResult>> results;
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(jobs[b]->Run(instance, input[b].unsqueeze(0)));
          }
          return results;
        });
  }

 private:
  Status Interrupted() const {
    if (Clock::now() >= deadline()) {
      return DeadlineExceededError(std::string(AttributionMethodName(spec_.run.method)) +
                                   ": the deadline passed between batches of gradients");
    }
    if (cancelled()) return CancelledError("the caller cancelled the request");
    return OkStatus();
  }

  StatusOr<AttributeResult> Run(ModelPool::Handle& instance, const at::Tensor& input) const {
    const ServableModel& model = this->model();
    std::vector<at::Tensor> baselines;
    for (size_t i = 0; i < spec_.baselines.size(); ++i) {
      baselines.push_back(MakeBaseline(spec_.baselines[i], model, input, spec_.seed + i));
    }
    AttributionSpec spec = spec_.run;
    spec.interrupted = [this] { return Interrupted(); };
    auto run = RunAttribution(instance, input, baselines, spec);
    if (!run.ok()) return run.status().WithContext(model.display_name());
    AttributeResult result;
    result.model = {model.name, model.version};
    auto top = TopClasses(run->logits, kDefaultTopK);
    if (!top.ok()) return top.status().WithContext(model.display_name());
    result.classes = Labeled(model, std::move(*top));
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
      out.map = ToFloatTensor(o.attribution.sum(0));
      if (o.integrates) {
        const double gap = static_cast<double>(o.logit) - o.baseline_logit;
        out.logit = o.logit;
        out.baseline_logit = o.baseline_logit;
        out.convergence_delta = o.delta;
        out.steps = o.steps;
        out.approximation_error =
            static_cast<float>(std::abs(o.delta) / std::max(std::abs(gap), 1e-30));
        if (std::abs(gap) < kMeaningfulLogitGap) {
          out.warning = "|f(x) - f(baseline)| = " + std::to_string(std::abs(gap)) +
                        " is below 0.05: the approximation error means little here; choose "
                        "another baseline";
        }
      } else {
        out.logit = o.logit;
      }
      result.attributions.push_back(std::move(out));
    }
    return result;
  }

  const AttributeSpec spec_;
};

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
  spec->run.steps = request.steps == 0 ? kDefaultAttributionSteps : request.steps;
  const int max_batch = environment.max_attribution_batch;
  if (request.batch_size < 0 || request.batch_size > max_batch) {
    return InvalidArgumentError(
        "batch_size must be in [1, " + std::to_string(max_batch) +
        "] (0: " + std::to_string(std::min(kDefaultAttributionBatch, max_batch)) + "), got " +
        std::to_string(request.batch_size));
  }
  spec->run.batch_size =
      request.batch_size == 0 ? std::min(kDefaultAttributionBatch, max_batch) : request.batch_size;
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
  if (spec->baselines.empty()) spec->baselines.push_back(BaselineKind::kZero);
  if (request.samples < 0) {
    return InvalidArgumentError("samples must be >= 0 (0: the method's default), got " +
                                std::to_string(request.samples));
  }
  if (!std::isfinite(request.noise_stdev) || request.noise_stdev < 0) {
    return InvalidArgumentError("noise_stdev must be finite and >= 0 (0: the method's default)");
  }
  if (request.overlay) {
    return UnimplementedError("overlay is not served yet for attributions; use map");
  }
  spec->seed = request.seed;
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
