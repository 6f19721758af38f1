// Classification on a pooled instance: one no-grad forward, softmax, top-k.
#ifndef XAI_CORE_METHODS_CLASSIFIER_H_
#define XAI_CORE_METHODS_CLASSIFIER_H_

#include <vector>

#include "core/base/status.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

struct ClassScore {
  int index = 0;
  float probability = 0;  // softmax over all classes
  float logit = 0;
};

// The `top_k` classes of `logits` ([num_classes], float) by descending probability; ties
// keep the lower class index first. top_k is clamped to [1, num_classes]. INTERNAL when a
// logit is NaN or infinite (a model fault: no answer rather than a wrong one).
StatusOr<std::vector<ClassScore>> TopClasses(const at::Tensor& logits, int top_k);

// Runs `instance` on `input` ([B,C,H,W] float32, CPU or the instance's device) and returns
// the logits, [B, num_classes] float32 on the CPU. INTERNAL when the forward throws
// (message from LibTorch) or returns another shape. With `frozen`, on the instance's frozen
// copy when it has one (faster on the CPU; its rounding differs from the model's).
StatusOr<at::Tensor> ForwardLogits(ModelPool::Handle& instance, const at::Tensor& input,
                                   bool frozen = false);

// The top classes of `input` ([1,C,H,W]): ForwardLogits and TopClasses.
StatusOr<std::vector<ClassScore>> ClassifyInput(ModelPool::Handle& instance,
                                                const at::Tensor& input, int top_k);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CLASSIFIER_H_
