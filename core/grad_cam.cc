#include "core/grad_cam.h"

#include <torch/csrc/autograd/autograd.h>

#include "core/layer_capture.h"
#include "core/torch_errors.h"

namespace xai::core {

StatusOr<GradCamOutput> RunGradCam(ModelPool::Handle& instance, const at::Tensor& input,
                                   const GradCamSpec& spec) {
  std::vector<torch::jit::Module> layers;
  for (const std::string& path : spec.layers) {
    XAI_ASSIGN_OR_RETURN(torch::jit::Module layer, FindSubmodule(instance.module(), path));
    layers.push_back(std::move(layer));
  }
  try {
    GradCamOutput out;
    std::vector<at::Tensor> activations;
    at::Tensor logits;
    {
      CaptureScope capture(layers, spec.cut);
      torch::AutoGradMode grad_mode(true);
      logits = instance.module().forward({input.to(instance.device())}).toTensor();
      activations = capture.Activations();
    }
    for (size_t i = 0; i < activations.size(); ++i) {
      if (!activations[i].defined() || !activations[i].requires_grad()) {
        return InvalidArgumentError("layer \"" + spec.layers[i] +
                                    "\" did not run in this forward, or its output does not reach "
                                    "the model's output");
      }
    }
    out.logits = logits.detach()[0].to(at::kCPU, at::kFloat);
    std::vector<int> targets = spec.targets;
    if (targets.empty()) targets.push_back(static_cast<int>(out.logits.argmax().item<int64_t>()));

    // The activations as the CAM math takes them, once for every target.
    std::vector<at::Tensor> maps_input;
    maps_input.reserve(activations.size());
    for (const at::Tensor& a : activations) maps_input.push_back(a.detach()[0].to(at::kFloat));

    for (size_t t = 0; t < targets.size(); ++t) {
      const at::Tensor score = logits[0][targets[t]];
      const std::vector<at::Tensor> grads =
          torch::autograd::grad({score}, activations, /*grad_outputs=*/{},
                                /*retain_graph=*/t + 1 < targets.size(), /*create_graph=*/false,
                                /*allow_unused=*/true);
      std::vector<at::Tensor> relu_maps;
      for (size_t l = 0; l < activations.size(); ++l) {
        const at::Tensor& a = maps_input[l];
        const at::Tensor g = grads[l].defined() ? grads[l][0].to(at::kFloat) : at::zeros_like(a);
        relu_maps.push_back(at::relu(CamMap(a, g, spec.method)));
      }
      CamOutput explanation;
      explanation.target = targets[t];
      explanation.cam = CombineLayerMaps(relu_maps, spec.height, spec.width).to(at::kCPU).contiguous();
      explanation.raw = relu_maps[0].to(at::kCPU).contiguous();
      out.explanations.push_back(std::move(explanation));
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
