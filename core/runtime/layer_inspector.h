// Lists the modules of a TorchScript model in execution order with their output shapes,
// from one probe forward. Works for traced and scripted models: no Python hooks.
#ifndef XAI_CORE_RUNTIME_LAYER_INSPECTOR_H_
#define XAI_CORE_RUNTIME_LAYER_INSPECTOR_H_

#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/runtime/layer_info.h"

namespace xai::core {

// Runs `module` once on `input` (a batch of one) with every submodule's capture switch on
// (see layer_capture.h) and returns every module called, in the order of its first call
// (the root itself excluded), with the shape of its output. Precondition: `module` was
// instrumented with InstrumentForCapture and is used by no one else during the call; its
// switches are off again afterwards. Modules that return other than one tensor have no
// output shape. INTERNAL when the probe forward fails (messages carry LibTorch's).
StatusOr<std::vector<LayerInfo>> InspectLayers(const torch::jit::Module& module,
                                               const at::Tensor& input);

// The output shapes of the modules at `paths` (which must have capture switches) in one
// forward on `input`, each empty where the module did not run or did not return a
// tensor. Same preconditions as InspectLayers; INTERNAL when the forward fails (e.g. the
// model does not take that input size).
StatusOr<std::vector<std::vector<int64_t>>> ProbeShapes(const torch::jit::Module& module,
                                                        const std::vector<std::string>& paths,
                                                        const at::Tensor& input);

// The default CAM layer: the feature map (a resolved layout, more than one grid position)
// that completes last. "" when the model has none. Layouts must be resolved first
// (feature_layout.h); InspectLayers leaves them unresolved.
std::string DefaultCamLayer(const std::vector<LayerInfo>& layers);

// Default path layers: the root's direct children that output NCHW feature maps, the last
// four in execution order.
std::vector<std::string> DefaultPathLayers(const std::vector<LayerInfo>& layers);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_LAYER_INSPECTOR_H_
