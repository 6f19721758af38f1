#include "core/layer_inspector.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <torch/csrc/jit/ir/ir.h>

#include "core/torch_errors.h"

namespace xai::core {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

constexpr char kOutputAttribute[] = "_xai_probe_output";

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

  std::vector<std::string> call_order;        // first call of each module (pre-order)
  std::map<std::string, int> completion;      // module path -> last completion index

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

// Makes every submodule's forward store its output in kOutputAttribute. Types shared by
// several submodules (scripted models) are rewritten once; each instance still stores
// into its own attribute slot.
void InstrumentForProbe(const std::unordered_map<std::string, torch::jit::Module>& modules) {
  std::unordered_set<const c10::ClassType*> rewritten;
  for (const auto& [path, module] : modules) {
    if (path.empty()) continue;
    torch::jit::Module m = module;
    m.register_attribute(kOutputAttribute, c10::TensorType::get(), at::Tensor());
    auto method = m.find_method("forward");
    if (!method || !rewritten.insert(m.type().get()).second) continue;
    std::shared_ptr<Graph> graph = method->graph();
    Value* output = graph->outputs()[0];
    if (!output->type()->isSubtypeOf(*c10::TensorType::get())) continue;
    Node* store = graph->create(c10::prim::SetAttr, {graph->inputs()[0], output}, 0);
    store->s_(c10::attr::name, kOutputAttribute);
    graph->appendNode(store);
  }
}

std::string TypeName(const torch::jit::Module& module) {
  const auto& name = module.type()->name();
  return name ? name->name() : "";
}

}  // namespace

StatusOr<std::vector<LayerInfo>> InspectLayers(const torch::jit::Module& module,
                                               const at::Tensor& input) {
  try {
    // A clone has its own types and graphs, so rewriting it leaves `module` untouched.
    torch::jit::Module probe = module.clone(/*inplace=*/true);
    std::unordered_map<std::string, torch::jit::Module> modules;
    modules.emplace("", probe);
    for (const auto& item : probe.named_modules()) modules.emplace(item.name, item.value);

    CallOrderWalker walker(modules);
    walker.WalkMethod("", "forward", 0);
    InstrumentForProbe(modules);
    {
      c10::InferenceMode guard;
      probe.forward({input});
    }

    std::vector<LayerInfo> layers;
    layers.reserve(walker.call_order.size());
    for (const std::string& path : walker.call_order) {
      const torch::jit::Module& m = modules.at(path);
      LayerInfo info;
      info.path = path;
      info.type = TypeName(m);
      info.completion_order = walker.completion[path];
      if (m.hasattr(kOutputAttribute)) {
        c10::IValue stored = m.attr(kOutputAttribute);
        if (stored.isTensor() && stored.toTensor().defined()) {
          const auto sizes = stored.toTensor().sizes();
          info.output_shape.assign(sizes.begin(), sizes.end());
        }
      }
      layers.push_back(std::move(info));
    }
    return layers;
  } catch (const std::exception& e) {
    return InternalError("probe forward for layer shapes failed: " + ExceptionMessage(e));
  }
}

std::string DefaultCamLayer(const std::vector<LayerInfo>& layers) {
  const LayerInfo* best = nullptr;
  for (const LayerInfo& layer : layers) {
    if (!layer.is_feature_map() || layer.output_shape[2] * layer.output_shape[3] <= 1) continue;
    if (best == nullptr || layer.completion_order > best->completion_order) best = &layer;
  }
  return best ? best->path : "";
}

std::vector<std::string> DefaultPathLayers(const std::vector<LayerInfo>& layers) {
  std::vector<std::string> top;
  for (const LayerInfo& layer : layers) {
    if (layer.path.find('.') == std::string::npos && layer.is_feature_map() &&
        layer.output_shape[2] * layer.output_shape[3] > 1) {
      top.push_back(layer.path);
    }
  }
  if (top.size() > 4) top.erase(top.begin(), top.end() - 4);
  return top;
}

}  // namespace xai::core
