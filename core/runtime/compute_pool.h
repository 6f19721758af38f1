// One budget of helper threads for the work inside a request that splits into
// independent items: DecisionPath's per-channel backwards today; ScoreCAM's masks,
// Integrated Gradients' steps and SmoothGrad's samples next. Sized once at start and
// shared by every model and request, so that concurrent requests share the idle cores
// instead of each starting threads of its own.
//
// Thread safe. The standard library only.
#ifndef XAI_CORE_RUNTIME_COMPUTE_POOL_H_
#define XAI_CORE_RUNTIME_COMPUTE_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

class ComputePool {
 public:
  // `helpers` threads besides the callers' own; 0: every ForEach runs on its caller.
  explicit ComputePool(int helpers);
  ~ComputePool();  // finishes what was handed out, joins the helpers
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  // The helpers that fit the cores LibTorch's intra-op threads leave idle: cores /
  // intra_op_threads - 1, at least 0.
  static int DefaultHelpers(int intra_op_threads);

  // Runs work(0) ... work(count - 1), each once, on the calling thread and on the
  // helpers that are free meanwhile (a busy pool leaves it all to the caller: a request
  // never waits for another's items). Returns when every item has run. OK, or INTERNAL
  // with the first exception's message (the other items still run). Items must be
  // independent: they run in any order, possibly at once.
  Status ForEach(size_t count, const std::function<void(size_t)>& work) {
    return ForEachWith(this, count, work);
  }
  // The same with `pool`'s helpers, or on the calling thread alone when `pool` is null.
  static Status ForEachWith(ComputePool* pool, size_t count,
                            const std::function<void(size_t)>& work);

  int helpers() const { return static_cast<int>(threads_.size()); }

 private:
  struct Run;
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_COMPUTE_POOL_H_
