#include "core/methods/attribution/attribution.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include <algorithm>
#include <limits>

#include "core/runtime/execution.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

// The target's logits and input gradients at `count` points made by `points`, batch by
// batch, each handed to `consume`.
Status Gradients(ModelPool::Handle& instance, int64_t count, const PointsFn& points,
                 const GradientsFn& consume, int target, const AttributionSpec& spec) {
  const int64_t batch = std::max(1, spec.batch_size);
  for (int64_t begin = 0; begin < count; begin += batch) {
    if (spec.interrupted) XAI_RETURN_IF_ERROR(spec.interrupted());
    const int64_t n = std::min(batch, count - begin);
    torch::AutoGradMode grad_mode(true);
    const at::Tensor x = points(begin, n).detach().requires_grad_(true);
    const c10::IValue output = instance.module().forward({x});
    if (!output.isTensor()) return InternalError("forward returned " + output.tagKind());
    const at::Tensor all = output.toTensor();
    XAI_RETURN_IF_ERROR(CheckBatchLogits(all, n, instance.num_classes()));
    const at::Tensor selected = all.select(1, target);
    const std::vector<at::Tensor> g = torch::autograd::grad({selected.sum()}, {x});
    consume(begin, selected.detach().to(at::kFloat), g[0].to(at::kFloat));
  }
  return OkStatus();
}

// The logits at `points`, [N, classes] on the CPU, without autograd. Not under
// InferenceMode: this module also runs the gradient forwards, and LibTorch 2.x's executor
// then keeps inference tensors that a later backward refuses to save.
StatusOr<at::Tensor> NoGradLogits(ModelPool::Handle& instance, const at::Tensor& points) {
  torch::NoGradGuard no_grad;
  const c10::IValue output = instance.module().forward({points});
  if (!output.isTensor()) return InternalError("forward returned " + output.tagKind());
  const at::Tensor logits = output.toTensor().to(at::kCPU, at::kFloat);
  XAI_RETURN_IF_ERROR(CheckBatchLogits(logits, points.size(0), instance.num_classes()));
  return logits;
}

}  // namespace

StatusOr<AttributionRun> RunAttribution(ModelPool::Handle& instance, const at::Tensor& input,
                                        const std::vector<at::Tensor>& baselines,
                                        const AttributionSpec& spec) {
  const PixelAttributionMethod* method = FindAttributionMethod(spec.method);
  if (method == nullptr) {
    return InvalidArgumentError("method " + std::string(AttributionMethodName(spec.method)) +
                                " is not served");
  }
  AttributionRun run;
  try {
    ExecutionScope scope(instance.device(), instance.stream(), instance.precision());
    AttributionContext context;
    context.input = ToDevice(input.to(at::kFloat), instance.device());
    XAI_ASSIGN_OR_RETURN(const at::Tensor logits, NoGradLogits(instance, context.input));
    run.logits = logits[0];
    std::vector<int> targets = spec.targets;
    if (targets.empty()) targets.push_back(static_cast<int>(run.logits.argmax().item<int64_t>()));
    for (const at::Tensor& b : baselines) {
      context.baselines.push_back(ToDevice(b.to(at::kFloat), instance.device()));
    }
    context.steps = spec.steps;
    context.rule = spec.rule;
    context.max_approximation_error = spec.max_approximation_error;
    context.samples = spec.samples;
    context.noise_sigma = spec.noise_sigma;
    context.seed = spec.seed;
    context.smoothed = spec.smoothed;
    context.segments = spec.segments;
    context.seconds_left = [&spec] {
      return spec.seconds_left ? spec.seconds_left() : std::numeric_limits<double>::infinity();
    };
    for (const int target : targets) {
      context.input_logit = run.logits[target].item<double>();
      context.gradients = [&instance, target, &spec](int64_t count, const PointsFn& points,
                                                     const GradientsFn& consume) {
        return Gradients(instance, count, points, consume, target, spec);
      };
      context.logits = [&instance, target](const at::Tensor& points) -> StatusOr<at::Tensor> {
        XAI_ASSIGN_OR_RETURN(const at::Tensor all, NoGradLogits(instance, points));
        return all.select(1, target);
      };
      XAI_ASSIGN_OR_RETURN(AttributionOutput output, method->Attribute(context));
      output.attribution = output.attribution.to(at::kCPU).contiguous();
      if (output.map.defined()) output.map = output.map.to(at::kCPU).contiguous();
      run.attributions.push_back({target, std::move(output)});
    }
  } catch (const std::exception& e) {
    return InternalError(std::string(AttributionMethodName(spec.method)) +
                         " failed: " + ExceptionMessage(e));
  }
  return run;
}

}  // namespace xai::core
