// Classification on a pooled instance: one no-grad forward, softmax, top-k.
#ifndef XAI_CORE_CLASSIFIER_H_
#define XAI_CORE_CLASSIFIER_H_

#include <vector>

#include "core/model_pool.h"
#include "core/status.h"

namespace xai::core {

struct ClassScore {
  int index = 0;
  float probability = 0;  // softmax over all classes
  float logit = 0;
};

// The `top_k` classes of `logits` ([num_classes], float) by descending probability; ties
// keep the lower class index first. top_k is clamped to [1, num_classes].
std::vector<ClassScore> TopClasses(const at::Tensor& logits, int top_k);

// Runs `instance` on `input` ([1,C,H,W] float32, any device: moved to the instance's) and
// returns its top classes. INTERNAL when the forward throws (message from LibTorch).
StatusOr<std::vector<ClassScore>> ClassifyInput(ModelPool::Handle& instance, const at::Tensor& input,
                                                int top_k);

}  // namespace xai::core

#endif  // XAI_CORE_CLASSIFIER_H_
