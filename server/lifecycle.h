// The thread that changes which models serve: admin calls and repository polling run on
// it one at a time, so that no gRPC thread waits while a model loads or drains, and two
// changes never interleave.
#ifndef XAI_SERVER_LIFECYCLE_H_
#define XAI_SERVER_LIFECYCLE_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace xai::server {

class LifecycleThread {
 public:
  // `poll`, when set, runs every `period` between tasks (the repository's changes on disk).
  explicit LifecycleThread(std::function<void()> poll = {},
                           std::chrono::milliseconds period = std::chrono::milliseconds(0));
  ~LifecycleThread();  // Stop()

  // Runs `task` on the thread after those posted before it. After Stop, runs it at once
  // on the caller's thread with `stopped` true, so that every task, and the call it
  // answers, ends.
  void Post(std::function<void(bool stopped)> task);

  // Finishes the task running, then runs the queued ones with `stopped` true, and joins.
  // Idempotent.
  void Stop();

 private:
  void Run();

  std::function<void()> poll_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void(bool)>> tasks_;  // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  std::thread thread_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_LIFECYCLE_H_
