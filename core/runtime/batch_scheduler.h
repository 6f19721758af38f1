// The scheduler of one model version: a bounded FIFO queue feeding one worker thread per
// model instance, with Triton-style dynamic batching.
//
// A free worker takes the oldest queued job and every later job with the same batch key,
// up to max_batch_size, in queue order; when that is fewer than max_batch_size it waits
// for more of that kind until the oldest job has waited max_queue_delay (not at all when
// one of them would pass its deadline meanwhile). One worker at a time forms a batch of a
// given key, so a half-full batch is not split between idle workers; other workers take
// batches of other keys meanwhile.
//
// Every job is answered exactly once: by its batch's RunBatch, or by Fail when it is
// refused (full queue: RESOURCE_EXHAUSTED; after Shutdown: UNAVAILABLE) or dropped
// without running because its deadline passed (DEADLINE_EXCEEDED), its caller cancelled
// (CANCELLED) or it waited max_queue_time (RESOURCE_EXHAUSTED) while it was queued.
// Knows nothing of models: jobs run themselves.
#ifndef XAI_CORE_RUNTIME_BATCH_SCHEDULER_H_
#define XAI_CORE_RUNTIME_BATCH_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <typeindex>
#include <typeinfo>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

// What decides which jobs may share a batch: the job's type and its parameters. Two jobs
// of different types never share one, whatever their parameters, so RunBatch may take
// every job of its batch to be of its own type.
class BatchKey {
 public:
  // The key of a `Job` with `params` (e.g. the method and layers it runs).
  template <typename Job>
  static BatchKey Of(std::string params) {
    return BatchKey(std::type_index(typeid(Job)), std::move(params));
  }

  const std::string& params() const { return params_; }
  friend bool operator==(const BatchKey& a, const BatchKey& b) {
    return a.kind_ == b.kind_ && a.params_ == b.params_;
  }
  friend bool operator<(const BatchKey& a, const BatchKey& b) {
    return std::tie(a.kind_, a.params_) < std::tie(b.kind_, b.params_);
  }

 private:
  BatchKey(std::type_index kind, std::string params) : kind_(kind), params_(std::move(params)) {}
  std::type_index kind_;
  std::string params_;
};

class BatchJob {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~BatchJob() = default;

  // Jobs with equal keys may share a batch (see BatchKey).
  virtual const BatchKey& batch_key() const = 0;
  virtual Clock::time_point deadline() const = 0;
  // Whether the caller gave up. Called under the scheduler's lock: must be cheap and
  // must not call back into the scheduler.
  virtual bool cancelled() const = 0;
  // Answers this job with `status` without running it.
  virtual void Fail(const Status& status) = 0;
  // Runs `batch` (this job first, then jobs of its type and key, all queued before) and
  // answers every job in it. Must not throw.
  virtual void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) = 0;

  // When the scheduler accepted the job.
  Clock::time_point enqueued() const { return enqueued_; }

 private:
  friend class BatchScheduler;
  Clock::time_point enqueued_;
};

struct BatchSchedulerOptions {
  std::string display_name;  // prefixes messages, e.g. "model 'resnet18' v1"
  int workers = 1;           // threads, one per model instance; >= 1
  int queue_capacity = 256;  // jobs waiting for a worker; >= 1
  int max_batch_size = 1;    // >= 1; 1: every job runs alone
  std::chrono::microseconds max_queue_delay{0};
  // A job that waited this long is dropped with RESOURCE_EXHAUSTED, whatever its deadline.
  std::chrono::milliseconds max_queue_time{30000};
};

// Thread safe.
class BatchScheduler {
 public:
  using Clock = BatchJob::Clock;

  explicit BatchScheduler(BatchSchedulerOptions options);
  ~BatchScheduler();  // Shutdown()
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Queues `job`, or answers it at once through Fail (on this thread) when refused. A full
  // queue first drops its expired and cancelled jobs before refusing.
  void Enqueue(std::unique_ptr<BatchJob> job);

  // Refuses new jobs, runs every job already queued (without waiting for batches to
  // fill), and joins the workers. Idempotent.
  void Shutdown();

  // Jobs waiting now; reads an atomic, never the queue's lock (metrics scrapes call it).
  int queued() const { return queued_count_.load(std::memory_order_relaxed); }
  const BatchSchedulerOptions& options() const { return options_; }

 private:
  struct Dropped {
    std::unique_ptr<BatchJob> job;
    Status status;
  };
  void Work();
  // Under mu_: moves the queued jobs whose deadline or max_queue_time passed or whose
  // caller cancelled to `dropped`, to be answered once the lock is released.
  void SweepLocked(std::vector<Dropped>* dropped);
  int CountLocked(const BatchKey& key) const;
  // Under mu_: the oldest job whose key no worker is forming a batch of, or null.
  const BatchJob* OldestFreeLocked() const;
  // Under mu_: the oldest job of `key` and its peers, up to max_batch_size, out of the queue.
  std::vector<std::unique_ptr<BatchJob>> TakeBatchLocked(const BatchKey& key);

  const BatchSchedulerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<BatchJob>> queue_;  // guarded by mu_
  std::atomic<int> queued_count_{0};             // queue_.size(), stored under mu_
  std::set<BatchKey> forming_;  // keys a worker waits to fill a batch of; guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::once_flag joined_;
  std::vector<std::thread> workers_;
};

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_BATCH_SCHEDULER_H_
