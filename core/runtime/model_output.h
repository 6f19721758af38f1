// Models whose forward returns more than the logits: a tuple (HuggingFace's traced models,
// torchvision's scripted Inception and GoogLeNet return a NamedTuple), a list or a dict.
// At load, the root's forward graph is rewritten to return the one tensor of logits, so
// that everything downstream (classification, capture, the graph split, the frozen copy)
// sees a model that returns a tensor.
#ifndef XAI_CORE_RUNTIME_MODEL_OUTPUT_H_
#define XAI_CORE_RUNTIME_MODEL_OUTPUT_H_

#include <torch/csrc/jit/api/module.h>

#include <string>

#include "core/base/status.h"

namespace xai::core {

// Rewrites `module`'s forward to return the output `selector` names: an index ("1") of a
// tuple or list, or a key of a dict or a field of a NamedTuple ("scores"). With "": a tensor
// as it is; a dict's "logits"; a NamedTuple's "logits" field; else element 0 of a tuple or
// list. Returns what was chosen, for DescribeModel and the load log ("tensor", "tuple
// element 0 (the first, by default)", "dict key 'logits'"). Call before the module first
// runs and before it is cloned or frozen. FAILED_PRECONDITION, naming the config field
// `output`, when the output is none of these, the selector names nothing in it, or the
// chosen element is not a tensor (a dict's keys are only known when it runs: a missing key
// fails the warm-up forward).
StatusOr<std::string> SelectLogitsOutput(torch::jit::Module& module, const std::string& selector);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_MODEL_OUTPUT_H_
