#include "core/runtime/model_output.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/runtime/torch_errors.h"

namespace xai::core {
namespace {

using c10::TypePtr;
using torch::jit::Graph;
using torch::jit::Value;

bool IsIndex(const std::string& s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool IsTensor(const TypePtr& type) { return type->isSubtypeOf(*c10::TensorType::get()); }

Status Refuse(const std::string& why) {
  return FailedPreconditionError(why +
                                 "; set output in config.pbtxt to the index or key of the "
                                 "logits (e.g. output: \"0\" or output: \"logits\")");
}

}  // namespace

StatusOr<std::string> SelectLogitsOutput(torch::jit::Module& module, const std::string& selector) {
  try {
    torch::jit::GraphFunction& forward =
        torch::jit::toGraphFunction(module.get_method("forward").function());
    std::shared_ptr<Graph> graph = forward.graph();
    if (graph->outputs().size() != 1) return Refuse("forward returns several values");
    Value* out = graph->outputs()[0];
    const TypePtr type = out->type();
    std::string note;
    Value* chosen = nullptr;
    torch::jit::WithInsertPoint guard(graph->return_node());
    if (IsTensor(type)) {
      if (!selector.empty()) {
        return FailedPreconditionError(
            "output is \"" + selector +
            "\" in config.pbtxt, but forward returns a tensor; remove it");
      }
      return std::string("tensor");
    }
    if (const auto tuple = type->cast<c10::TupleType>()) {
      std::vector<std::string> names;
      if (tuple->schema()) {
        for (const c10::Argument& field : tuple->schema()->arguments())
          names.push_back(field.name());
      }
      const size_t size = tuple->elements().size();
      size_t index = 0;
      if (IsIndex(selector)) {
        index = std::stoul(selector);
        note = "tuple element " + selector;
      } else if (!selector.empty() || std::count(names.begin(), names.end(), "logits") == 1) {
        const std::string name = selector.empty() ? "logits" : selector;
        const auto found = std::find(names.begin(), names.end(), name);
        if (found == names.end()) {
          return Refuse("forward returns a tuple" +
                        std::string(names.empty() ? " without field names"
                                                  : " without a field '" + name + "'"));
        }
        index = static_cast<size_t>(found - names.begin());
        note = "NamedTuple field '" + name + "' (element " + std::to_string(index) + ")";
      } else {
        note = "tuple element 0 (the first, by default)";
      }
      if (index >= size) {
        return Refuse("forward returns a tuple of " + std::to_string(size) + ", no element " +
                      std::to_string(index));
      }
      if (!IsTensor(tuple->elements()[index])) {
        return Refuse("the chosen output, " + note + ", is a " + tuple->elements()[index]->str() +
                      ", not a tensor");
      }
      chosen = graph
                   ->insertNode(graph->createTupleIndex(
                       out, graph->insertConstant(static_cast<int64_t>(index)),
                       tuple->elements()[index]))
                   ->output();
    } else if (const auto list = type->cast<c10::ListType>()) {
      if (!IsTensor(list->getElementType())) {
        return Refuse("forward returns a " + type->str() + ", not a list of tensors");
      }
      if (!selector.empty() && !IsIndex(selector)) {
        return Refuse("forward returns a list, and \"" + selector + "\" is no index");
      }
      const int64_t index = selector.empty() ? 0 : std::stol(selector);
      note = "list element " + std::to_string(index) +
             (selector.empty() ? " (the first, by default)" : "");
      chosen = graph->insert(c10::aten::__getitem__, {out, graph->insertConstant(index)});
    } else if (const auto dict = type->cast<c10::DictType>()) {
      if (dict->getKeyType()->kind() != c10::TypeKind::StringType ||
          !IsTensor(dict->getValueType())) {
        return Refuse("forward returns a " + type->str() + ", not a dict of tensors by name");
      }
      const std::string key = selector.empty() ? "logits" : selector;
      note = "dict key '" + key + "'";
      chosen = graph->insert(c10::aten::__getitem__, {out, graph->insertConstant(key)});
    } else {
      return Refuse("forward returns a " + type->str() + ", not a tensor, tuple, list or dict");
    }
    chosen->setType(c10::TensorType::get());
    graph->return_node()->replaceInput(0, chosen);
    forward.setSchema(forward.getSchema().cloneWithReturns({c10::Argument("", chosen->type())}));
    return note;
  } catch (const std::exception& e) {
    return FailedPreconditionError("cannot select the logits among forward's outputs: " +
                                   ExceptionMessage(e));
  }
}

}  // namespace xai::core
