#include "core/runtime/batch_scheduler.h"

#include <algorithm>

namespace xai::core {

BatchScheduler::BatchScheduler(BatchSchedulerOptions options) : options_(std::move(options)) {
  const int workers = std::max(1, options_.workers);
  workers_.reserve(workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

BatchScheduler::~BatchScheduler() { Shutdown(); }

void BatchScheduler::Enqueue(std::unique_ptr<BatchJob> job) {
  job->enqueued_ = Clock::now();
  std::vector<Dropped> dropped;
  Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t capacity = static_cast<size_t>(std::max(1, options_.queue_capacity));
    if (stopping_) {
      refused = UnavailableError(options_.display_name + " is shutting down");
    } else {
      if (queue_.size() >= capacity) SweepLocked(&dropped);
      if (queue_.size() >= capacity) {
        refused = ResourceExhaustedError(options_.display_name + ": queue full (" +
                                         std::to_string(capacity) +
                                         " requests waiting for an instance); retry later");
      } else {
        queue_.push_back(std::move(job));
        queued_count_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
      }
    }
  }
  if (refused.ok()) changed_.notify_all();
  for (Dropped& d : dropped) d.job->Fail(d.status);
  if (!refused.ok()) job->Fail(refused);
}

void BatchScheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  std::call_once(joined_, [this] {
    for (std::thread& worker : workers_) worker.join();
  });
}

void BatchScheduler::SweepLocked(std::vector<Dropped>* dropped) {
  const Clock::time_point now = Clock::now();
  auto keep = queue_.begin();
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    BatchJob& job = **it;
    const auto waited_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - job.enqueued_).count();
    if (job.cancelled()) {
      dropped->push_back(
          {std::move(*it),
           CancelledError("cancelled by the caller while queued for " + options_.display_name)});
    } else if (now >= job.deadline()) {
      dropped->push_back(
          {std::move(*it),
           DeadlineExceededError("deadline exceeded while queued for " + options_.display_name +
                                 " (waited " + std::to_string(waited_ms) + " ms)")});
    } else if (now - job.enqueued_ >= options_.max_queue_time) {
      dropped->push_back(
          {std::move(*it),
           ResourceExhaustedError(options_.display_name + " is overloaded: waited " +
                                  std::to_string(waited_ms) + " ms in its queue (limit " +
                                  std::to_string(options_.max_queue_time.count()) +
                                  " ms); retry later")});
    } else {
      if (keep != it) *keep = std::move(*it);
      ++keep;
    }
  }
  queue_.erase(keep, queue_.end());
  queued_count_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
}

int BatchScheduler::CountLocked(const BatchKey& key) const {
  int n = 0;
  for (const auto& job : queue_) n += job->batch_key() == key;
  return n;
}

const BatchJob* BatchScheduler::OldestFreeLocked() const {
  for (const auto& job : queue_) {
    if (forming_.count(job->batch_key()) == 0) return job.get();
  }
  return nullptr;
}

std::vector<std::unique_ptr<BatchJob>> BatchScheduler::TakeBatchLocked(const BatchKey& key) {
  std::vector<std::unique_ptr<BatchJob>> batch;
  const size_t limit = static_cast<size_t>(std::max(1, options_.max_batch_size));
  auto keep = queue_.begin();
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (batch.size() < limit && (*it)->batch_key() == key) {
      batch.push_back(std::move(*it));
    } else {
      if (keep != it) *keep = std::move(*it);
      ++keep;
    }
  }
  queue_.erase(keep, queue_.end());
  queued_count_.store(static_cast<int>(queue_.size()), std::memory_order_relaxed);
  return batch;
}

void BatchScheduler::Work() {
  const int max_batch = std::max(1, options_.max_batch_size);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(
        lock, [this] { return OldestFreeLocked() != nullptr || (stopping_ && queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and every job answered
    std::vector<Dropped> dropped;
    SweepLocked(&dropped);
    const BatchJob* oldest = OldestFreeLocked();
    std::vector<std::unique_ptr<BatchJob>> batch;
    if (oldest != nullptr) {
      const BatchKey key = oldest->batch_key();
      if (max_batch > 1 && options_.max_queue_delay.count() > 0 && !stopping_ &&
          CountLocked(key) < max_batch) {
        // Wait for the batch to fill, unless a job of it would pass its deadline meanwhile.
        const Clock::time_point until = oldest->enqueued_ + options_.max_queue_delay;
        const bool urgent = std::any_of(queue_.begin(), queue_.end(), [&](const auto& job) {
          return job->batch_key() == key && job->deadline() < until;
        });
        if (!urgent) {
          forming_.insert(key);
          changed_.wait_until(lock, until,
                              [&] { return stopping_ || CountLocked(key) >= max_batch; });
          forming_.erase(key);
          SweepLocked(&dropped);
        }
      }
      batch = TakeBatchLocked(key);
    }
    lock.unlock();
    changed_.notify_all();  // the queue changed, and this key is no longer forming
    for (Dropped& d : dropped) d.job->Fail(d.status);
    dropped.clear();
    if (!batch.empty()) {
      BatchJob* head = batch.front().get();
      head->RunBatch(batch);
    }
    batch.clear();
    lock.lock();
  }
}

}  // namespace xai::core
