#include "core/runtime/compute_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <string>

namespace xai::core {

// The state of one ForEach, shared with the helper tasks it queued: a task that starts
// after every item was claimed finds nothing to do and touches nothing else, so the
// caller may return before such tasks have run.
struct ComputePool::Run {
  const std::function<void(size_t)>* work;
  size_t count;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable finished;
  size_t done = 0;          // guarded by mu
  std::string first_error;  // guarded by mu

  // Runs items until none is left unclaimed.
  void Drain() {
    for (size_t k; (k = next.fetch_add(1)) < count;) {
      std::string error;
      try {
        (*work)(k);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "unknown error";
      } catch (...) {  // whatever it was, the other items and the caller must go on
        error = "unknown error";
      }
      std::lock_guard<std::mutex> lock(mu);
      if (!error.empty() && first_error.empty()) first_error = error;
      if (++done == count) finished.notify_all();
    }
  }
};

ComputePool::ComputePool(int helpers) {
  for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { Work(); });
}

ComputePool::~ComputePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

int ComputePool::DefaultHelpers(int intra_op_threads) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(0, cores / std::max(1, intra_op_threads) - 1);
}

void ComputePool::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

Status ComputePool::ForEachWith(ComputePool* pool, size_t count,
                                const std::function<void(size_t)>& work) {
  if (count == 0) return OkStatus();
  auto run = std::make_shared<Run>();
  run->work = &work;
  run->count = count;
  const size_t helpers = pool == nullptr ? 0 : std::min(count - 1, pool->threads_.size());
  if (helpers > 0) {
    {
      std::lock_guard<std::mutex> lock(pool->mu_);
      for (size_t i = 0; i < helpers; ++i) pool->tasks_.push_back([run] { run->Drain(); });
    }
    pool->wake_.notify_all();
  }
  run->Drain();
  std::unique_lock<std::mutex> lock(run->mu);
  run->finished.wait(lock, [&] { return run->done == run->count; });
  if (!run->first_error.empty()) return InternalError(run->first_error);
  return OkStatus();
}

}  // namespace xai::core
