#include "core/runtime/layer_capture.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/utils.h>

#include <unordered_set>

#include "core/runtime/model_pool.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
using torch::jit::WithInsertPoint;

constexpr char kCut[] = "_xai_cut";
constexpr char kCapture[] = "_xai_capture";
constexpr char kActivation[] = "_xai_activation";
constexpr char kCopy[] = "_xai_copy";
constexpr char kReplace[] = "_xai_replace";
constexpr char kReplacement[] = "_xai_replacement";

bool ReturnsOneTensor(const torch::jit::Module& module) {
  auto method = module.find_method("forward");
  if (!method) return false;
  const auto& outputs = method->graph()->outputs();
  return outputs.size() == 1 && outputs[0]->type()->isSubtypeOf(*c10::TensorType::get());
}

void AddSwitches(torch::jit::Module& module) {
  module.register_attribute(kCut, c10::BoolType::get(), false);
  module.register_attribute(kCapture, c10::BoolType::get(), false);
  module.register_attribute(kCopy, c10::BoolType::get(), false);
  module.register_attribute(kActivation, c10::TensorType::get(), at::Tensor());
  module.register_attribute(kReplace, c10::BoolType::get(), false);
  module.register_attribute(kReplacement, c10::TensorType::get(), at::Tensor());
}

// Appends the replacement, the cut and the capture to `graph` (the forward of a module type
// that has the switch attributes).
void RewriteForward(Graph& graph) {
  Value* self = graph.inputs()[0];
  Node* ret = graph.return_node();
  WithInsertPoint at_end(ret);

  Node* replace =
      graph.insertNode(graph.create(c10::prim::If, {graph.insertGetAttr(self, kReplace)}, 1));
  replace->output()->setType(c10::TensorType::get());
  Block* replaced = replace->addBlock();
  Block* own = replace->addBlock();
  {
    WithInsertPoint in_replaced(replaced);
    replaced->registerOutput(graph.insertGetAttr(self, kReplacement));
  }
  own->registerOutput(ret->input(0));
  Value* out = replace->output();

  Node* cut = graph.insertNode(graph.create(c10::prim::If, {graph.insertGetAttr(self, kCut)}, 1));
  cut->output()->setType(c10::TensorType::get());
  Block* detach = cut->addBlock();
  Block* keep = cut->addBlock();
  {
    WithInsertPoint in_detach(detach);
    Value* detached = graph.insert(c10::aten::detach, {out});
    Value* leaf = graph.insert(c10::aten::requires_grad_, {detached, graph.insertConstant(true)});
    detach->registerOutput(leaf);
  }
  keep->registerOutput(out);
  Value* result = cut->output();

  Node* capture =
      graph.insertNode(graph.create(c10::prim::If, {graph.insertGetAttr(self, kCapture)}, 0));
  Block* store = capture->addBlock();
  capture->addBlock();
  {
    // Without autograd nothing would notice the rest of the network modifying the stored
    // output in place (a residual `out += identity`): a copy keeps the layer's own values.
    WithInsertPoint in_store(store);
    Node* copy =
        graph.insertNode(graph.create(c10::prim::If, {graph.insertGetAttr(self, kCopy)}, 1));
    copy->output()->setType(c10::TensorType::get());
    Block* cloned = copy->addBlock();
    Block* same = copy->addBlock();
    {
      WithInsertPoint in_clone(cloned);
      cloned->registerOutput(graph.insert(c10::aten::clone, {result}));
    }
    same->registerOutput(result);
    graph.insertNode(graph.createSetAttr(self, kActivation, copy->output()));
  }
  ret->replaceInput(0, result);
}

}  // namespace

Status InstrumentForCapture(torch::jit::Module& module) {
  try {
    // Attributes are declared on the type but stored per instance: every instance gets its
    // own switches, each type's graph is rewritten once.
    std::unordered_set<const c10::ClassType*> rewritten;
    for (const auto& item : module.named_modules()) {
      if (item.name.empty()) continue;  // the root returns logits
      torch::jit::Module m = item.value;
      if (!ReturnsOneTensor(m)) continue;
      const bool first_of_type = rewritten.insert(m.type().get()).second;
      if (first_of_type && m.hasattr(kCut)) {
        return FailedPreconditionError("the model is already instrumented for layer capture");
      }
      AddSwitches(m);
      if (first_of_type) RewriteForward(*m.get_method("forward").graph());
    }
    return OkStatus();
  } catch (const std::exception& e) {
    return InternalError("cannot instrument the model for layer capture: " + ExceptionMessage(e));
  }
}

bool HasCaptureSwitches(const torch::jit::Module& module) { return module.hasattr(kCapture); }

StatusOr<torch::jit::Module> FindSubmodule(const torch::jit::Module& module,
                                           const std::string& path) {
  torch::jit::Module current = module;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!current.hasattr(part) || !current.attr(part).isModule()) {
      return NotFoundError("no module \"" + path + "\"");
    }
    current = current.attr(part).toModule();
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

// Object::setAttr writes the instance's slot without Module::setattr's type check, which
// would throw on the undefined tensor that releases a stored activation.
CaptureScope::CaptureScope(std::vector<torch::jit::Module> layers, size_t cut, bool copy)
    : layers_(std::move(layers)) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]._ivalue()->setAttr(kCapture, true);
    layers_[i]._ivalue()->setAttr(kCut, i == cut);
    layers_[i]._ivalue()->setAttr(kCopy, copy);
  }
}

CaptureScope::~CaptureScope() {
  for (torch::jit::Module& layer : layers_) {
    layer._ivalue()->setAttr(kCapture, false);
    layer._ivalue()->setAttr(kCut, false);
    layer._ivalue()->setAttr(kCopy, false);
    layer._ivalue()->setAttr(kActivation, at::Tensor());
  }
}

ReplaceScope::ReplaceScope(torch::jit::Module layer, const at::Tensor& replacement)
    : layer_(std::move(layer)) {
  layer_._ivalue()->setAttr(kReplacement, replacement);
  layer_._ivalue()->setAttr(kReplace, true);
}

ReplaceScope::~ReplaceScope() {
  layer_._ivalue()->setAttr(kReplace, false);
  layer_._ivalue()->setAttr(kReplacement, at::Tensor());
}

std::vector<at::Tensor> CaptureScope::Activations() const {
  std::vector<at::Tensor> out;
  out.reserve(layers_.size());
  for (const torch::jit::Module& layer : layers_) out.push_back(layer.attr(kActivation).toTensor());
  return out;
}

StatusOr<CapturedForward> RunCaptured(torch::jit::Module& module, const at::Tensor& input,
                                      const std::vector<std::string>& paths, size_t cut,
                                      int64_t classes, bool gradients) {
  std::vector<torch::jit::Module> layers;
  for (const std::string& path : paths) {
    XAI_ASSIGN_OR_RETURN(torch::jit::Module layer, FindSubmodule(module, path));
    layers.push_back(std::move(layer));
  }
  CapturedForward out;
  {
    CaptureScope capture(std::move(layers), cut, /*copy=*/!gradients);
    torch::AutoGradMode grad_mode(gradients);
    out.output = module.forward({input}).toTensor();
    out.activations = capture.Activations();
  }
  XAI_RETURN_IF_ERROR(CheckBatchLogits(out.output, input.size(0), classes));
  for (size_t i = 0; i < out.activations.size(); ++i) {
    if (!out.activations[i].defined()) {
      return InvalidArgumentError("layer \"" + paths[i] + "\" did not run in this forward");
    }
    if (gradients && !out.activations[i].requires_grad()) {
      return InvalidArgumentError("layer \"" + paths[i] +
                                  "\" did not run in this forward, or its output does not reach "
                                  "the model's output");
    }
  }
  return out;
}

}  // namespace xai::core
