#include "core/methods/cam/perturbation_cam.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "core/methods/cam/cam.h"
#include "core/methods/classifier.h"
#include "core/runtime/execution.h"
#include "core/runtime/graph_split.h"
#include "core/runtime/layer_capture.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

// The logits ([n, classes], CPU float32) of n perturbations.
using ScoreFn = std::function<StatusOr<at::Tensor>(const at::Tensor& perturbed)>;

// The targets' scores [K,T] of every channel's perturbation of one sample at one layer:
// each representative scored once, in batches; the others copy theirs.
StatusOr<at::Tensor> ChannelScores(const at::Tensor& x, const at::Tensor& a,
                                   const at::Tensor& target_index, const at::Tensor& unperturbed,
                                   const GradCamSpec& spec, const PerturbationCamMethod& method,
                                   const ScoreFn& score) {
  const std::vector<int64_t> representatives = method.Representatives(a);
  std::vector<int64_t> distinct;
  for (int64_t k = 0; k < static_cast<int64_t>(representatives.size()); ++k) {
    if (representatives[k] == k) distinct.push_back(k);
  }
  const int64_t channels = a.size(0);
  at::Tensor scores = at::empty({channels, target_index.size(0)}, at::kFloat);
  const int64_t step = std::max(1, spec.batch_size);
  for (size_t begin = 0; begin < distinct.size(); begin += step) {
    if (spec.interrupted) XAI_RETURN_IF_ERROR(spec.interrupted());
    const size_t end = std::min(distinct.size(), begin + static_cast<size_t>(step));
    const at::Tensor rows =
        at::tensor(std::vector<int64_t>(distinct.begin() + begin, distinct.begin() + end));
    XAI_ASSIGN_OR_RETURN(const at::Tensor logits, score(method.Perturb(x, a, rows.to(a.device()))));
    scores.index_copy_(0, rows, logits.index_select(1, target_index));
  }
  for (int64_t k = 0; k < channels; ++k) {
    const int64_t r = representatives[k];
    if (r == PerturbationCamMethod::kUnchanged) {
      scores[k].copy_(unperturbed);
    } else if (r != k) {
      scores[k].copy_(scores[r]);
    }
  }
  return scores;
}

// Scores ablated outputs of layer `path` by full forwards of the sample `x` ([1,...]) with
// the layer's output replaced by them at every call: pytorch-grad-cam's procedure, where the
// graph does not split at the layer.
StatusOr<ScoreFn> FullForwardScores(ModelPool::Handle& instance, const std::string& path,
                                    const at::Tensor& x, at::ScalarType dtype) {
  XAI_ASSIGN_OR_RETURN(torch::jit::Module layer, FindSubmodule(instance.module(), path));
  torch::jit::Module module = instance.module();
  return ScoreFn([module, layer, x, path,
                  dtype](const at::Tensor& perturbed) mutable -> StatusOr<at::Tensor> {
    c10::InferenceMode guard;
    const ReplaceScope replace(layer, perturbed.to(dtype));
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes[0] = perturbed.size(0);
    try {
      const c10::IValue output = module.forward({x.expand(sizes).contiguous()});
      return output.toTensor().to(at::kCPU, at::kFloat);
    } catch (const std::exception& e) {
      return InvalidArgumentError("ABLATION_CAM at layer \"" + path +
                                  "\": the model fails with the layer's output replaced at each "
                                  "of its calls (" +
                                  ExceptionMessage(e) + ")");
    }
  });
}

// Scores ablated outputs of layer `path` by the network after it, for the sample `x`
// ([1,...]), after checking that it reproduces the sample's `logits` ([1, classes]).
StatusOr<ScoreFn> SuffixScores(ModelPool::Handle& instance, const LayerSplit* split,
                               const std::string& path, const at::Tensor& x,
                               const at::Tensor& logits) {
  auto cut = std::make_shared<LayerSplit::Cut>();
  {
    c10::InferenceMode guard;
    *cut = split->Forward(instance.module(), x);
    const at::Tensor again =
        split->Suffix(instance.module(), cut->output.clone(), *cut).to(at::kCPU, at::kFloat);
    const double scale = std::max(1.0, logits.abs().max().item<double>());
    if (again.sizes() != logits.sizes() ||
        !((again - logits).abs().max().item<double>() <= 1e-4 * scale)) {
      return FailedPreconditionError("the network after layer \"" + path +
                                     "\", run alone, does not reproduce the model's logits");
    }
  }
  const at::ScalarType dtype = cut->output.scalar_type();
  torch::jit::Module module = instance.module();
  return ScoreFn([module, split, cut, dtype](const at::Tensor& perturbed) -> StatusOr<at::Tensor> {
    c10::InferenceMode guard;
    return split->Suffix(module, perturbed.to(dtype), *cut).to(at::kCPU, at::kFloat);
  });
}

}  // namespace

StatusOr<std::vector<GradCamOutput>> RunPerturbationCam(
    ModelPool::Handle& instance, const at::Tensor& input, const GradCamSpec& spec,
    const PerturbationCamMethod& method, const std::vector<std::vector<int>>& targets) {
  const int64_t batch = input.size(0);
  try {
    ExecutionScope scope(instance.device(), instance.stream(), instance.precision());
    const at::Tensor x = ToDevice(input, instance.device());
    XAI_ASSIGN_OR_RETURN(CapturedForward forward,
                         RunCaptured(instance.module(), x, spec.layers, spec.cut,
                                     instance.num_classes(), /*gradients=*/false));
    const at::Tensor logits = forward.output.to(at::kCPU, at::kFloat);
    XAI_ASSIGN_OR_RETURN(const std::vector<std::vector<int>> sample_targets,
                         ResolveTargets(logits, targets));
    std::vector<GradCamOutput> out(batch);
    for (int64_t b = 0; b < batch; ++b) {
      out[b].logits = logits[b];
      const std::vector<int64_t> classes(sample_targets[b].begin(), sample_targets[b].end());
      const at::Tensor target_index = at::tensor(classes);
      const at::Tensor unperturbed = logits[b].index_select(0, target_index);
      std::vector<at::Tensor> relu_maps;  // per layer, [T,h,w]
      const at::Tensor sample = x.narrow(0, b, 1);
      for (size_t l = 0; l < forward.activations.size(); ++l) {
        const LayerLayout layout = LayoutOf(spec, l);
        // The sample's [C,h,w] view, which the methods perturb: a layer's own layout goes
        // back to the network (ablated grid tokens beside the unchanged prefix tokens).
        const at::Tensor original = forward.activations[l].narrow(0, b, 1);
        const at::Tensor a = FeatureMapView(original, layout)[0].to(at::kFloat);
        ScoreFn score = [&instance](const at::Tensor& perturbed) {
          return ForwardLogits(instance, perturbed, /*frozen=*/true);
        };
        if (method.site() == PerturbationCamMethod::Site::kLayerOutput) {
          const std::string& path = spec.layers[l];
          if (const LayerSplit* split = instance.split(path)) {
            XAI_ASSIGN_OR_RETURN(
                score, SuffixScores(instance, split, path, sample, logits.narrow(0, b, 1)));
          } else {
            XAI_ASSIGN_OR_RETURN(score, FullForwardScores(instance, path, sample,
                                                          forward.activations[l].scalar_type()));
          }
          if (layout.kind != FeatureLayout::kNchw) {
            score = [score, layout, original](const at::Tensor& perturbed) {
              return score(FromFeatureMapView(perturbed, layout, original));
            };
          }
        }
        XAI_ASSIGN_OR_RETURN(
            const at::Tensor scores,
            ChannelScores(sample, a, target_index, unperturbed, spec, method, score));
        const at::Tensor weights = method.Weights(scores, unperturbed).to(a.device());  // [T,K]
        const at::Tensor weighted =
            weights.view({weights.size(0), weights.size(1), 1, 1}) * a.unsqueeze(0);  // [T,K,h,w]
        relu_maps.push_back(
            at::relu(spec.eigen_smooth ? FirstComponentProjection(weighted) : weighted.sum(1)));
      }
      const at::Tensor cams =
          CombineLayerMaps(relu_maps, spec.height, spec.width).to(at::kCPU).contiguous();
      const at::Tensor raws = relu_maps[0].to(at::kCPU).contiguous();
      for (size_t t = 0; t < sample_targets[b].size(); ++t) {
        out[b].explanations.push_back({sample_targets[b][t], cams[t], raws[t]});
      }
    }
    return out;
  } catch (const std::exception& e) {
    return InternalError(std::string(CamMethodName(spec.method)) +
                         " failed: " + ExceptionMessage(e));
  }
}

}  // namespace xai::core
