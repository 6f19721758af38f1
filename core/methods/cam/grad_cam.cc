#include "core/methods/cam/grad_cam.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <optional>

#include "core/methods/cam/cam.h"
#include "core/methods/cam/cam_methods.h"
#include "core/methods/cam/perturbation_cam.h"
#include "core/methods/classifier.h"
#include "core/runtime/execution.h"
#include "core/runtime/graph_split.h"
#include "core/runtime/layer_capture.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

// The map before ReLU; with eigen_smooth a gradient-weighted method's weighted activations
// are projected on their first principal component instead of summed (pytorch-grad-cam's
// eigen_smooth; the eigen methods project already).
at::Tensor MethodMap(const MapCamMethod& method, const at::Tensor& a, const at::Tensor& g,
                     bool eigen_smooth) {
  if (eigen_smooth && method.family() == CamFamily::kGradientWeighted) {
    return FirstComponentProjection(static_cast<const GradientCamMethod&>(method).Weighted(a, g));
  }
  return method.Map(a, g);
}

// pytorch-grad-cam's aug_smooth (ttach's horizontal flip x multiply by 0.9, 1.0, 1.1): the
// six variants of every sample run as one batch, with the sample's targets; each final map
// (and raw map) is flipped back and the six are averaged, without normalising again. The
// logits are those of the unchanged variant. A sample without targets gets the top-1 class
// of the unchanged input for all six (pytorch-grad-cam would take each variant's own).
StatusOr<std::vector<GradCamOutput>> RunAugSmoothed(ModelPool::Handle& instance,
                                                    const at::Tensor& input, GradCamSpec spec,
                                                    std::vector<std::vector<int>> targets) {
  spec.aug_smooth = false;
  const int64_t batch = input.size(0);
  if (std::any_of(targets.begin(), targets.end(), [](const auto& t) { return t.empty(); })) {
    XAI_ASSIGN_OR_RETURN(const at::Tensor logits, ForwardLogits(instance, input));
    const at::Tensor top = logits.argmax(1);
    for (int64_t b = 0; b < batch; ++b) {
      if (targets[b].empty()) targets[b].push_back(static_cast<int>(top[b].item<int64_t>()));
    }
  }
  // Variant v of sample b sits at v * batch + b: v = 3 * flipped + factor index.
  constexpr double kFactors[] = {0.9, 1.0, 1.1};
  constexpr int kVariants = 6;
  constexpr int kUnchanged = 1;  // not flipped, factor 1.0
  std::vector<at::Tensor> variants;
  for (const bool flip : {false, true}) {
    for (const double factor : kFactors) {
      const at::Tensor scaled = input * factor;
      variants.push_back(flip ? scaled.flip(-1) : scaled);
    }
  }
  std::vector<std::vector<int>> variant_targets;
  for (int v = 0; v < kVariants; ++v) {
    variant_targets.insert(variant_targets.end(), targets.begin(), targets.end());
  }
  XAI_ASSIGN_OR_RETURN(std::vector<GradCamOutput> all,
                       RunGradCamBatch(instance, at::cat(variants), spec, variant_targets));
  std::vector<GradCamOutput> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    out[b] = std::move(all[kUnchanged * batch + b]);
    for (size_t t = 0; t < out[b].explanations.size(); ++t) {
      at::Tensor cam = at::zeros_like(out[b].explanations[t].cam);
      at::Tensor raw = at::zeros_like(out[b].explanations[t].raw);
      for (int v = 0; v < kVariants; ++v) {
        const CamOutput& e =
            v == kUnchanged ? out[b].explanations[t] : all[v * batch + b].explanations[t];
        const bool flipped = v >= 3;
        cam += flipped ? e.cam.flip(-1) : e.cam;
        raw += flipped ? e.raw.flip(-1) : e.raw;
      }
      out[b].explanations[t].cam = cam / kVariants;
      out[b].explanations[t].raw = raw / kVariants;
    }
  }
  return out;
}

// The forward of one layer's Grad-CAM on the CPU, where the pool has a frozen copy and the
// graph splits at the layer: the network before the layer frozen for inference
// (ModelPool::Handle::frozen_prefix) and run without autograd, the rest from the layer's
// output on, with autograd where the method differentiates. The same outputs as RunCaptured
// within float rounding (the prefix's convolutions fold their batch norms), for the cost of
// an optimised forward and the backward of the layers after the cut. nullopt where it does
// not apply: RunCaptured then runs the model's own graph.
std::optional<StatusOr<CapturedForward>> FrozenPrefixForward(ModelPool::Handle& instance,
                                                             const at::Tensor& input,
                                                             const GradCamSpec& spec,
                                                             bool gradients) {
  // frozen_prefix is null without the pool's frozen copy, which only CPU instances (float32)
  // have.
  if (spec.layers.size() != 1) return std::nullopt;
  torch::jit::Module* prefix = instance.frozen_prefix(spec.layers[0]);
  if (prefix == nullptr) return std::nullopt;
  const LayerSplit* split = instance.split(spec.layers[0]);
  LayerSplit::Cut cut;
  {
    c10::NoGradGuard no_grad;
    cut = LayerSplit::RunPrefix(*prefix, input);
  }
  CapturedForward out;
  // A method without gradients reads the output as the layer returned it, whatever the
  // network after it does in place (RunCaptured's copy); with gradients the output is the
  // leaf they reach, and an in-place change of it fails as in RunCaptured.
  at::Tensor activation = cut.output;
  at::Tensor suffix_input = gradients ? activation.requires_grad_(true) : activation.clone();
  {
    c10::AutoGradMode grad_mode(gradients);
    out.output = split->SuffixOf(instance.module(), suffix_input, std::move(cut.values));
  }
  out.activations = {activation};
  if (const Status shape = CheckBatchLogits(out.output, input.size(0), instance.num_classes());
      !shape.ok()) {
    return StatusOr<CapturedForward>(shape);
  }
  if (gradients && !out.output.requires_grad()) {
    return StatusOr<CapturedForward>(
        InvalidArgumentError("layer \"" + spec.layers[0] + "\" does not reach the model's output"));
  }
  return StatusOr<CapturedForward>(std::move(out));
}

}  // namespace

LayerLayout LayoutOf(const GradCamSpec& spec, size_t l) {
  return l < spec.layouts.size() ? spec.layouts[l] : LayerLayout{FeatureLayout::kNchw};
}

StatusOr<std::vector<std::vector<int>>> ResolveTargets(const at::Tensor& logits,
                                                       std::vector<std::vector<int>> targets) {
  const int64_t classes = logits.size(1);
  for (int64_t b = 0; b < logits.size(0); ++b) {
    if (targets[b].empty())
      targets[b].push_back(static_cast<int>(logits[b].argmax().item<int64_t>()));
    for (const int target : targets[b]) {
      if (target < 0 || target >= classes) {
        return InvalidArgumentError("target class " + std::to_string(target) +
                                    " is out of range [0, " + std::to_string(classes) + ")");
      }
    }
  }
  return targets;
}

StatusOr<GradCamOutput> RunGradCam(ModelPool::Handle& instance, const at::Tensor& input,
                                   const GradCamSpec& spec) {
  XAI_ASSIGN_OR_RETURN(std::vector<GradCamOutput> outputs,
                       RunGradCamBatch(instance, input, spec, {spec.targets}));
  return std::move(outputs[0]);
}

StatusOr<std::vector<GradCamOutput>> RunGradCamBatch(ModelPool::Handle& instance,
                                                     const at::Tensor& input,
                                                     const GradCamSpec& spec,
                                                     const std::vector<std::vector<int>>& targets) {
  const int64_t batch = input.size(0);
  if (static_cast<int64_t>(targets.size()) != batch) {
    return InternalError("Grad-CAM batch of " + std::to_string(batch) + " inputs got " +
                         std::to_string(targets.size()) + " target lists");
  }
  if (spec.aug_smooth) return RunAugSmoothed(instance, input, spec, targets);
  if (const PerturbationCamMethod* perturbation = FindPerturbationCamMethod(spec.method)) {
    return RunPerturbationCam(instance, input, spec, *perturbation, targets);
  }
  const MapCamMethod* method = FindMapCamMethod(spec.method);
  if (method == nullptr) {
    return InvalidArgumentError("method " + std::string(CamMethodName(spec.method)) +
                                " is not a served CAM method");
  }
  const bool gradients = method->needs_gradients();
  try {
    ExecutionScope scope(instance.device(), instance.stream(), instance.precision());
    const at::Tensor x = ToDevice(input, instance.device());
    std::optional<StatusOr<CapturedForward>> frozen =
        FrozenPrefixForward(instance, x, spec, gradients);
    XAI_ASSIGN_OR_RETURN(CapturedForward forward,
                         frozen ? std::move(*frozen)
                                : RunCaptured(instance.module(), x, spec.layers, spec.cut,
                                              instance.num_classes(), gradients));
    const at::Tensor& logits = forward.output;
    const std::vector<at::Tensor>& activations = forward.activations;
    const at::Tensor cpu_logits = logits.detach().to(at::kCPU, at::kFloat);  // shape checked

    XAI_ASSIGN_OR_RETURN(const std::vector<std::vector<int>> sample_targets,
                         ResolveTargets(cpu_logits, targets));
    std::vector<GradCamOutput> out(batch);
    size_t rounds = 0;
    for (int64_t b = 0; b < batch; ++b) {
      out[b].logits = cpu_logits[b];
      rounds = std::max(rounds, sample_targets[b].size());
    }

    // The activations as the CAM math takes them ([B,C,h,w] views, float32), once for
    // every target; gradients get the same view.
    std::vector<at::Tensor> maps_input;
    maps_input.reserve(activations.size());
    for (size_t l = 0; l < activations.size(); ++l) {
      maps_input.push_back(
          FeatureMapView(activations[l].detach(), LayoutOf(spec, l)).to(at::kFloat));
    }

    // Round t differentiates every sample's t-th target score at once: the seed has a one
    // in row b at that class, zeros elsewhere (and a zero row when sample b has no t-th).
    // The maps of the whole batch are then computed together, and copied to the CPU once.
    // A method without gradients has one map per sample, whatever the target: one round.
    at::Tensor cams;  // [B,height,width]
    at::Tensor raws;  // [B,h,w] of the first layer
    for (size_t t = 0; t < rounds; ++t) {
      if (gradients || t == 0) {
        std::vector<at::Tensor> grads(activations.size());
        if (gradients) {
          at::Tensor seed = at::zeros({batch, instance.num_classes()}, at::kFloat);
          auto cells = seed.accessor<float, 2>();
          for (int64_t b = 0; b < batch; ++b) {
            if (t < sample_targets[b].size()) cells[b][sample_targets[b][t]] = 1.0f;
          }
          seed = seed.to(logits.device(), logits.scalar_type());
          grads = torch::autograd::grad({logits}, activations, {seed},
                                        /*retain_graph=*/t + 1 < rounds, /*create_graph=*/false,
                                        /*allow_unused=*/true);
        }
        std::vector<at::Tensor> relu_maps;  // per layer, [B,h,w]
        for (size_t l = 0; l < activations.size(); ++l) {
          const at::Tensor& a = maps_input[l];
          at::Tensor g;  // undefined for a method without gradients
          if (gradients) {
            g = grads[l].defined() ? FeatureMapView(grads[l], LayoutOf(spec, l)).to(at::kFloat)
                                   : at::zeros_like(a);
          }
          relu_maps.push_back(at::relu(MethodMap(*method, a, g, spec.eigen_smooth)));
        }
        cams = CombineLayerMaps(relu_maps, spec.height, spec.width).to(at::kCPU).contiguous();
        raws = relu_maps[0].to(at::kCPU).contiguous();
      }
      for (int64_t b = 0; b < batch; ++b) {
        if (t >= sample_targets[b].size()) continue;
        CamOutput explanation;
        explanation.target = sample_targets[b][t];
        explanation.cam = cams[b];
        explanation.raw = raws[b];
        out[b].explanations.push_back(std::move(explanation));
      }
    }
    return out;
  } catch (const std::exception& e) {
    const std::string message = ExceptionMessage(e);
    if (message.find("in-place operation") != std::string::npos) {
      return InvalidArgumentError("a captured layer's output is modified in place by the model (" +
                                  message + "); choose the layer that follows it");
    }
    return InternalError("Grad-CAM failed: " + message);
  }
}

}  // namespace xai::core
