#include "core/runtime/graph_split.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <optional>
#include <unordered_map>

#include "core/runtime/freezing.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// The module path a value holds when it is a chain of attribute reads from the graph's
// `self` ("" for self itself), or nullopt.
std::optional<std::string> PathOf(const Value* value, const Value* self) {
  if (value == self) return std::string();
  const Node* node = value->node();
  if (node->kind() != c10::prim::GetAttr) return std::nullopt;
  const std::optional<std::string> parent = PathOf(node->input(0), self);
  if (!parent) return std::nullopt;
  const std::string name = node->s(c10::attr::name);
  return parent->empty() ? name : *parent + "." + name;
}

// Every module path's cut Ifs (the layer's output: the If on its _xai_cut switch), at any
// depth of `graph` (inlined).
std::unordered_map<std::string, std::vector<Node*>> AllCuts(Graph& graph) {
  std::unordered_map<std::string, std::vector<Node*>> out;
  const Value* self = graph.inputs()[0];
  std::vector<torch::jit::Block*> blocks = {graph.block()};
  while (!blocks.empty()) {
    torch::jit::Block* block = blocks.back();
    blocks.pop_back();
    for (Node* node : block->nodes()) {
      for (torch::jit::Block* inner : node->blocks()) blocks.push_back(inner);
      if (node->kind() != c10::prim::GetAttr || node->s(c10::attr::name) != "_xai_cut") continue;
      const std::optional<std::string> path = PathOf(node->input(0), self);
      if (!path) continue;
      for (const torch::jit::Use& use : node->output()->uses()) {
        if (use.user->kind() == c10::prim::If) out[*path].push_back(use.user);
      }
    }
  }
  return out;
}

std::vector<Node*> CutsOf(Graph& graph, const std::string& path) {
  auto all = AllCuts(graph);
  auto found = all.find(path);
  return found == all.end() ? std::vector<Node*>() : found->second;
}

// "" when `cuts` is one If in the graph's own block, else why the graph cannot be split.
std::string WhyNoSplit(const Graph& graph, const std::vector<Node*>& cuts) {
  if (cuts.empty()) return "the layer's output is not found in the forward graph";
  if (cuts.size() > 1)
    return "the layer runs " + std::to_string(cuts.size()) + " times in a forward";
  if (cuts[0]->owningBlock() != graph.block()) return "the layer runs inside a loop or a branch";
  return "";
}

// Reads of the capture switches (layer_capture.h) in `graph` replaced by false, and the
// branches they guarded removed, with the reads of the stored activations and replacements
// (undefined tensors, which freezing cannot inline).
void SwitchesOff(std::shared_ptr<Graph>& graph) {
  std::vector<Node*> reads;
  std::vector<torch::jit::Block*> blocks = {graph->block()};
  while (!blocks.empty()) {
    torch::jit::Block* block = blocks.back();
    blocks.pop_back();
    for (Node* node : block->nodes()) {
      for (torch::jit::Block* inner : node->blocks()) blocks.push_back(inner);
      if (node->kind() != c10::prim::GetAttr) continue;
      const std::string name = node->s(c10::attr::name);
      if (name == "_xai_cut" || name == "_xai_capture" || name == "_xai_copy" ||
          name == "_xai_replace") {
        reads.push_back(node);
      }
    }
  }
  for (Node* node : reads) {
    torch::jit::WithInsertPoint here(node);
    node->output()->replaceAllUsesWith(graph->insertConstant(false));
    node->destroy();
  }
  torch::jit::ConstantPropagation(graph);
  torch::jit::EliminateDeadCode(graph);
}

std::shared_ptr<Graph> InlinedForward(const torch::jit::Module& module) {
  std::shared_ptr<Graph> graph =
      const_cast<torch::jit::Module&>(module).get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  return graph;
}

}  // namespace

std::unordered_map<std::string, std::string> WhereSplits(const torch::jit::Module& module) {
  std::unordered_map<std::string, std::string> out;
  try {
    std::shared_ptr<Graph> graph = InlinedForward(module);
    for (const auto& [path, cuts] : AllCuts(*graph)) out[path] = WhyNoSplit(*graph, cuts);
  } catch (const std::exception&) {
    // No report: every layer then reads as not found.
  }
  return out;
}

struct LayerSplit::Functions {
  std::unique_ptr<torch::jit::GraphFunction> full;    // (self, x) -> (logits, output, values...)
  std::unique_ptr<torch::jit::GraphFunction> suffix;  // (self, output, values...) -> logits
  std::shared_ptr<Graph> prefix;                      // (self, x) -> (output, values...)
  std::vector<bool> repeat;                           // per value: a tensor to repeat to the batch
};

LayerSplit::~LayerSplit() = default;

StatusOr<std::unique_ptr<LayerSplit>> LayerSplit::Create(const torch::jit::Module& module,
                                                         const std::string& path) {
  std::shared_ptr<Graph> graph = InlinedForward(module);
  Value* self = graph->inputs()[0];

  const std::vector<Node*> cuts = CutsOf(*graph, path);
  const std::string refused = WhyNoSplit(*graph, cuts);
  if (!refused.empty()) return FailedPreconditionError(refused);
  Node* cut = cuts[0];
  Value* output = cut->output();

  auto split = std::unique_ptr<LayerSplit>(new LayerSplit());
  split->functions_ = std::make_unique<Functions>();

  // The suffix: the nodes after the cut, cloned into a graph of their own.
  auto suffix = std::make_shared<Graph>();
  std::unordered_map<Value*, Value*> env;
  Value* suffix_self = suffix->addInput("self");
  suffix_self->setType(self->type());
  env[self] = suffix_self;
  Value* suffix_output = suffix->addInput("layer_output");
  suffix_output->setType(output->type());
  env[output] = suffix_output;
  std::vector<Value*> crossing;  // values of `graph` fed to the suffix
  std::function<Value*(Value*)> map = [&](Value* v) -> Value* {
    auto found = env.find(v);
    if (found != env.end()) return found->second;
    Node* node = v->node();
    const bool rereadable =
        node->kind() == c10::prim::Constant ||
        (node->kind() == c10::prim::GetAttr && PathOf(node->input(0), self).has_value());
    Value* mapped = nullptr;
    if (rereadable) {
      Node* clone = suffix->createClone(node, map);
      suffix->insertNode(clone);
      mapped = clone->output();
    } else {
      mapped = suffix->addInput();
      mapped->setType(v->type());
      crossing.push_back(v);
    }
    env[v] = mapped;
    return mapped;
  };
  bool after = false;
  for (Node* node : graph->nodes()) {
    if (!after) {
      after = node == cut;
      ++split->prefix_nodes_;
      continue;
    }
    Node* clone = suffix->createClone(node, map);
    suffix->insertNode(clone);
    for (size_t i = 0; i < node->outputs().size(); ++i) env[node->output(i)] = clone->output(i);
    ++split->suffix_nodes_;
  }
  suffix->registerOutput(map(graph->outputs()[0]));
  split->crossing_values_ = crossing.size();

  // The prefix: the nodes up to the cut, returning the layer's output and the crossing
  // values (FreezePrefix wraps it in a module).
  if (graph->inputs().size() == 2) {
    auto prefix = std::make_shared<Graph>();
    std::unordered_map<Value*, Value*> prefix_env;
    for (Value* input : graph->inputs()) {
      Value* mapped = prefix->addInput();
      mapped->setType(input->type());
      prefix_env[input] = mapped;
    }
    auto prefix_map = [&](Value* v) { return prefix_env.at(v); };
    for (Node* node : graph->nodes()) {
      Node* clone = prefix->insertNode(prefix->createClone(node, prefix_map));
      for (size_t i = 0; i < node->outputs().size(); ++i) {
        prefix_env[node->output(i)] = clone->output(i);
      }
      if (node == cut) break;
    }
    std::vector<Value*> returned = {prefix_env.at(output)};
    for (Value* v : crossing) returned.push_back(prefix_env.at(v));
    Node* tuple = prefix->insertNode(prefix->createTuple(returned));
    prefix->registerOutput(tuple->output());
    SwitchesOff(prefix);
    split->functions_->prefix = std::move(prefix);
  }

  // The full forward, returning copies of the layer's output and the crossing values as
  // they were at the cut.
  {
    torch::jit::WithInsertPoint at_cut(cut->next());
    std::vector<Value*> returned = {graph->outputs()[0]};
    auto copy = [&](Value* v) {
      if (v->type()->isSubtypeOf(*c10::TensorType::get())) {
        split->functions_->repeat.push_back(true);
        return graph->insert(c10::aten::clone, {v});
      }
      split->functions_->repeat.push_back(false);
      return v;
    };
    returned.push_back(graph->insert(c10::aten::clone, {output}));
    for (Value* v : crossing) returned.push_back(copy(v));
    torch::jit::WithInsertPoint at_end(graph->return_node());
    Node* tuple = graph->insertNode(graph->createTuple(returned));
    graph->return_node()->replaceInput(0, tuple->output());
  }
  split->functions_->full =
      std::make_unique<torch::jit::GraphFunction>("xai_split_full", graph, nullptr);
  split->functions_->suffix =
      std::make_unique<torch::jit::GraphFunction>("xai_split_suffix", suffix, nullptr);
  return split;
}

LayerSplit::Cut LayerSplit::Forward(const torch::jit::Module& module,
                                    const at::Tensor& input) const {
  torch::jit::Stack stack = {module._ivalue(), input};
  functions_->full->run(stack);
  const auto elements = stack.back().toTupleRef().elements();
  Cut cut;
  cut.logits = elements[0].toTensor();
  cut.output = elements[1].toTensor();
  cut.values.assign(elements.begin() + 2, elements.end());
  return cut;
}

StatusOr<torch::jit::Module> LayerSplit::FreezePrefix(const torch::jit::Module& module,
                                                      bool optimize) const {
  if (functions_->prefix == nullptr) {
    return FailedPreconditionError("the forward takes more than one input");
  }
  try {
    // A module holding `module` as `net`, whose forward is the prefix with `self` read as
    // self.net; freezing then inlines every attribute the prefix reads.
    torch::jit::Module wrapper(c10::QualifiedName("__torch__.xai.LayerPrefix"),
                               std::make_shared<torch::jit::CompilationUnit>());
    wrapper.register_attribute("training", c10::BoolType::get(), false);
    wrapper.register_module("net", module);
    auto graph = std::make_shared<Graph>();
    Value* self = graph->addInput("self");
    self->setType(wrapper.type());
    Value* x = graph->addInput("x");
    x->setType(functions_->prefix->inputs()[1]->type());
    Value* net = graph->insertGetAttr(self, "net");
    const std::vector<Value*> returned =
        torch::jit::insertGraph(*graph, *functions_->prefix, {net, x});
    graph->registerOutput(returned.at(0));
    torch::jit::Function* forward = wrapper._ivalue()->compilation_unit()->create_function(
        c10::QualifiedName(*wrapper.type()->name(), "forward"), graph);
    wrapper.type()->addMethod(forward);
    return FreezeForInference(wrapper, optimize);
  } catch (const std::exception& e) {
    return FailedPreconditionError("the network before the layer cannot be made a module: " +
                                   ExceptionMessage(e));
  }
}

LayerSplit::Cut LayerSplit::RunPrefix(torch::jit::Module& prefix, const at::Tensor& input) {
  const c10::IValue result = prefix.forward({input});
  const auto elements = result.toTupleRef().elements();
  Cut cut;
  cut.output = elements[0].toTensor();
  cut.values.assign(elements.begin() + 1, elements.end());
  return cut;
}

at::Tensor LayerSplit::SuffixOf(const torch::jit::Module& module, const at::Tensor& output,
                                std::vector<c10::IValue> values) const {
  torch::jit::Stack stack = {module._ivalue(), output};
  for (c10::IValue& value : values) stack.push_back(std::move(value));
  functions_->suffix->run(stack);
  return stack.back().toTensor();
}

at::Tensor LayerSplit::Suffix(const torch::jit::Module& module, const at::Tensor& outputs,
                              const Cut& cut) const {
  const int64_t n = outputs.size(0);
  torch::jit::Stack stack = {module._ivalue(), outputs};
  for (size_t i = 0; i < cut.values.size(); ++i) {
    const c10::IValue& value = cut.values[i];
    if (functions_->repeat[i] && value.isTensor()) {
      const at::Tensor t = value.toTensor();
      if (t.dim() > 0 && t.size(0) == 1) {
        std::vector<int64_t> times(t.dim(), 1);
        times[0] = n;
        stack.emplace_back(t.repeat(times));
        continue;
      }
      stack.emplace_back(t.clone());
      continue;
    }
    stack.push_back(value);
  }
  functions_->suffix->run(stack);
  return stack.back().toTensor();
}

}  // namespace xai::core
