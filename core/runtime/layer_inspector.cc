#include "core/runtime/layer_inspector.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/runtime/graph_split.h"
#include "core/runtime/layer_capture.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

std::string JoinPath(const std::string& parent, const std::string& child) {
  return parent.empty() ? child : parent + "." + child;
}

// Resolves `value` to a submodule path relative to the graph's `self` (input 0), following
// prim::GetAttr chains. Returns false when the value is not a module reached that way.
bool ResolveModulePath(Value* value, Value* self, std::string* relative) {
  std::vector<std::string> parts;
  while (value != self) {
    Node* node = value->node();
    if (node->kind() != c10::prim::GetAttr) return false;
    parts.push_back(node->s(c10::attr::name));
    value = node->input(0);
  }
  relative->clear();
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) *relative = JoinPath(*relative, *it);
  return true;
}

// Walks the call structure statically: the order of prim::CallMethod nodes in each
// method's graph (blocks of if/loop included) gives the execution order of submodules.
class CallOrderWalker {
 public:
  explicit CallOrderWalker(const std::unordered_map<std::string, torch::jit::Module>& modules)
      : modules_(modules) {}

  void WalkMethod(const std::string& path, const std::string& method_name, int depth) {
    if (depth > 64) return;  // recursion guard: TorchScript has no recursion, but be safe
    auto it = modules_.find(path);
    if (it == modules_.end()) return;
    auto method = it->second.find_method(method_name);
    if (!method) return;
    std::shared_ptr<Graph> graph = method->graph();
    WalkBlock(graph->block(), graph->inputs()[0], path, depth);
  }

  std::vector<std::string> call_order;    // first call of each module (pre-order)
  std::map<std::string, int> completion;  // module path -> last completion index

 private:
  void WalkBlock(Block* block, Value* self, const std::string& path, int depth) {
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) WalkBlock(sub, self, path, depth);
      if (node->kind() != c10::prim::CallMethod) continue;
      std::string relative;
      if (!ResolveModulePath(node->input(0), self, &relative)) continue;
      const std::string& method = node->s(c10::attr::name);
      if (relative.empty()) {  // a helper method of the same module, e.g. _forward_impl
        WalkMethod(path, method, depth + 1);
        continue;
      }
      const std::string child = JoinPath(path, relative);
      if (method == "forward" && seen_.insert(child).second) call_order.push_back(child);
      WalkMethod(child, method, depth + 1);
      if (method == "forward") completion[child] = next_completion_++;
    }
  }

  const std::unordered_map<std::string, torch::jit::Module>& modules_;
  std::unordered_set<std::string> seen_;
  int next_completion_ = 0;
};

std::string TypeName(const torch::jit::Module& module) {
  const auto& name = module.type()->name();
  return name ? name->name() : "";
}

}  // namespace

StatusOr<std::vector<LayerInfo>> InspectLayers(const torch::jit::Module& module,
                                               const at::Tensor& input) {
  try {
    std::unordered_map<std::string, torch::jit::Module> modules;
    modules.emplace("", module);
    for (const auto& item : module.named_modules()) modules.emplace(item.name, item.value);

    CallOrderWalker walker(modules);
    walker.WalkMethod("", "forward", 0);

    // Capture every module that returns one tensor (those have the switches), cut nowhere.
    std::vector<std::string> captured_paths;
    for (const std::string& path : walker.call_order) {
      if (HasCaptureSwitches(modules.at(path))) captured_paths.push_back(path);
    }
    XAI_ASSIGN_OR_RETURN(const std::vector<std::vector<int64_t>> probed,
                         ProbeShapes(module, captured_paths, input));
    std::unordered_map<std::string, std::vector<int64_t>> shapes;
    for (size_t i = 0; i < probed.size(); ++i) shapes[captured_paths[i]] = probed[i];

    const std::unordered_map<std::string, std::string> splits = WhereSplits(module);
    std::vector<LayerInfo> layers;
    layers.reserve(walker.call_order.size());
    for (const std::string& path : walker.call_order) {
      LayerInfo info;
      info.path = path;
      info.type = TypeName(modules.at(path));
      info.completion_order = walker.completion[path];
      if (auto it = shapes.find(path); it != shapes.end()) info.output_shape = it->second;
      const auto split = splits.find(path);
      info.split_refusal =
          split != splits.end()
              ? split->second
              : std::string("the layer's output is not found in the forward graph");
      layers.push_back(std::move(info));
    }
    return layers;
  } catch (const std::exception& e) {
    return InternalError("inspecting the model's layers failed: " + ExceptionMessage(e));
  }
}

StatusOr<std::vector<std::vector<int64_t>>> ProbeShapes(const torch::jit::Module& module,
                                                        const std::vector<std::string>& paths,
                                                        const at::Tensor& input) {
  try {
    std::vector<torch::jit::Module> captured;
    for (const std::string& path : paths) {
      XAI_ASSIGN_OR_RETURN(torch::jit::Module layer, FindSubmodule(module, path));
      captured.push_back(std::move(layer));
    }
    std::vector<std::vector<int64_t>> shapes(paths.size());
    CaptureScope capture(std::move(captured), CaptureScope::kNoCut);
    c10::InferenceMode guard;
    torch::jit::Module probe = module;  // a handle to the same module: forward is non-const
    probe.forward({input});
    const std::vector<at::Tensor> outputs = capture.Activations();
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].defined())
        shapes[i].assign(outputs[i].sizes().begin(), outputs[i].sizes().end());
    }
    return shapes;
  } catch (const std::exception& e) {
    return InternalError("probe forward for layer shapes failed: " + ExceptionMessage(e));
  }
}

std::string DefaultCamLayer(const std::vector<LayerInfo>& layers) {
  const LayerInfo* best = nullptr;
  for (const LayerInfo& layer : layers) {
    if (!layer.is_feature_map() || layer.layout.height * layer.layout.width <= 1) continue;
    if (best == nullptr || layer.completion_order > best->completion_order) best = &layer;
  }
  return best ? best->path : "";
}

std::vector<std::string> DefaultPathLayers(const std::vector<LayerInfo>& layers) {
  std::vector<std::string> top;
  for (const LayerInfo& layer : layers) {
    if (layer.path.find('.') == std::string::npos && layer.layout.kind == FeatureLayout::kNchw &&
        layer.layout.height * layer.layout.width > 1) {
      top.push_back(layer.path);
    }
  }
  if (top.size() > 4) top.erase(top.begin(), top.end() - 4);
  return top;
}

}  // namespace xai::core
