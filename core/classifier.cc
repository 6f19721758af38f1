#include "core/classifier.h"

#include <algorithm>
#include <numeric>

#include "core/torch_errors.h"

namespace xai::core {

std::vector<ClassScore> TopClasses(const at::Tensor& logits, int top_k) {
  const at::Tensor logit_values = logits.detach().to(at::kCPU, at::kFloat).contiguous();
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

StatusOr<std::vector<ClassScore>> ClassifyInput(ModelPool::Handle& instance, const at::Tensor& input,
                                                int top_k) {
  try {
    c10::InferenceMode guard;
    const c10::IValue output = instance.module().forward({input.to(instance.device())});
    return TopClasses(output.toTensor()[0], top_k);
  } catch (const std::exception& e) {
    return InternalError("forward failed: " + ExceptionMessage(e));
  }
}

}  // namespace xai::core
