// A fixed set of worker threads fed by a bounded FIFO queue. gRPC handlers hand work to
// it and return at once, so gRPC threads never wait on a model.
#ifndef XAI_CORE_BOUNDED_EXECUTOR_H_
#define XAI_CORE_BOUNDED_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace xai::core {

struct BoundedExecutorOptions {
  int threads = 1;           // >= 1
  int queue_capacity = 256;  // tasks waiting for a thread, >= 1
};

// Thread safe. Tasks must not throw (an escaping exception terminates the process).
class BoundedExecutor {
 public:
  explicit BoundedExecutor(BoundedExecutorOptions options);
  ~BoundedExecutor();  // Shutdown()
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`. RESOURCE_EXHAUSTED when queue_capacity tasks are already waiting,
  // UNAVAILABLE after Shutdown; the task is then not run (the caller answers for it).
  Status Submit(std::function<void()> task);

  // Refuses new tasks, runs every task already queued, and joins the threads. Idempotent.
  void Shutdown();

  int queued() const;

 private:
  void Work();

  const BoundedExecutorOptions options_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace xai::core

#endif  // XAI_CORE_BOUNDED_EXECUTOR_H_
