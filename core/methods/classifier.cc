#include "core/methods/classifier.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <sstream>

#include "core/runtime/torch_errors.h"

namespace xai::core {

StatusOr<std::vector<ClassScore>> TopClasses(const at::Tensor& logits, int top_k) {
  const at::Tensor logit_values = logits.detach().to(at::kCPU, at::kFloat).contiguous();
  if (!at::isfinite(logit_values).all().item<bool>()) {
    const bool nan = at::isnan(logit_values).any().item<bool>();
    return InternalError(std::string("the model returned ") + (nan ? "NaN" : "infinite") +
                         " logits for this input");
  }
  const at::Tensor probs = at::softmax(logit_values, 0);
  const int64_t n = logit_values.numel();
  const float* l = logit_values.data_ptr<float>();
  const float* p = probs.data_ptr<float>();
  const int k = static_cast<int>(std::clamp<int64_t>(top_k, 1, n));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<ClassScore> out;
  out.reserve(k);
  for (int i = 0; i < k; ++i) out.push_back({order[i], p[order[i]], l[order[i]]});
  return out;
}

StatusOr<at::Tensor> ForwardLogits(ModelPool::Handle& instance, const at::Tensor& input,
                                   bool frozen) {
  try {
    at::Tensor logits;
    {
      ExecutionScope scope(instance.device(), instance.stream(), instance.precision());
      c10::InferenceMode guard;
      torch::jit::Module& module =
          frozen && instance.frozen() != nullptr ? *instance.frozen() : instance.module();
      const c10::IValue output = module.forward({ToDevice(input, instance.device())});
      if (!output.isTensor())
        return InternalError("forward returned " + output.tagKind() + ", not logits");
      logits = output.toTensor().to(at::kCPU, at::kFloat);
    }
    XAI_RETURN_IF_ERROR(CheckBatchLogits(logits, input.size(0), instance.num_classes()));
    return logits;
  } catch (const std::exception& e) {
    return InternalError("forward failed: " + ExceptionMessage(e));
  }
}

StatusOr<std::vector<ClassScore>> ClassifyInput(ModelPool::Handle& instance,
                                                const at::Tensor& input, int top_k) {
  XAI_ASSIGN_OR_RETURN(at::Tensor logits, ForwardLogits(instance, input));
  return TopClasses(logits[0], top_k);
}

}  // namespace xai::core
