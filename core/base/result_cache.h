// A memory-bounded cache of computed results with single flight: concurrent requests for
// one key compute it once, and later ones are answered from memory until the key is
// evicted (least recently used first). Keys are opaque strings: the caller makes them say
// everything the result depends on. The explanation cache of issue 29 is one of these per
// result type; this file knows nothing of models or requests.
#ifndef XAI_CORE_BASE_RESULT_CACHE_H_
#define XAI_CORE_BASE_RESULT_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/base/status.h"

namespace xai::core {

// Failures that belong to one call (its deadline, its cancellation), not to the key: the
// next caller waiting for the key computes it instead of getting them. Anything else (a
// full queue, a model going away, a bad request) is every waiting caller's answer.
inline bool FailureOfTheCall(StatusCode code) {
  return code == StatusCode::kDeadlineExceeded || code == StatusCode::kCancelled;
}

struct ResultCacheStats {
  uint64_t hits = 0;       // answered from memory
  uint64_t misses = 0;     // computed
  uint64_t joined = 0;     // answered by a computation already running for the key
  uint64_t evictions = 0;  // entries dropped for the byte bound
  uint64_t too_large = 0;  // results not kept: larger than an eighth of the bound
  size_t bytes = 0;        // held by the entries
  size_t entries = 0;
};

template <typename Result>
class ResultCache {
 public:
  // Calls its argument exactly once with the answer (from any thread).
  using Done = std::function<void(StatusOr<Result>)>;
  // Starts computing the result; its answer goes to the Done it is given.
  using Compute = std::function<void(Done)>;

  // `max_bytes` 0: nothing is kept and nothing is shared, every Get computes. `size_of`:
  // what a result holds, in bytes (its arrays and images), for the bound. `keep`: whether
  // a result may be kept (answered to its waiters either way); none: every OK result.
  ResultCache(size_t max_bytes, std::function<size_t(const Result&)> size_of,
              std::function<bool(const Result&)> keep = {})
      : max_bytes_(max_bytes), size_of_(std::move(size_of)), keep_(std::move(keep)) {}
  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  enum class Outcome {
    kHit,     // `done` was called with a copy of the kept result, before Get returned
    kJoined,  // the key is being computed: `done` gets that answer (or `compute` runs for
              // this caller when that computation fails for a reason of its own call)
    kMiss,    // `compute` was called; its answer goes to `done` and, when OK, is kept
    kOff,     // the cache is off (0 bytes): `compute` was called, nothing is kept
  };

  Outcome Get(const std::string& key, Compute compute, Done done) {
    if (max_bytes_ == 0) {
      compute(std::move(done));
      return Outcome::kOff;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.position);
      std::shared_ptr<const Result> value = it->second.value;
      ++stats_.hits;
      lock.unlock();
      done(*value);
      return Outcome::kHit;
    }
    if (auto it = running_.find(key); it != running_.end()) {
      it->second.push_back({std::move(compute), std::move(done)});
      ++stats_.joined;
      return Outcome::kJoined;
    }
    running_.emplace(key, std::deque<Waiter>{});
    ++stats_.misses;
    lock.unlock();
    Start(key, Waiter{std::move(compute), std::move(done)});
    return Outcome::kMiss;
  }

  ResultCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    ResultCacheStats s = stats_;
    s.bytes = bytes_;
    s.entries = entries_.size();
    return s;
  }
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Waiter {
    Compute compute;
    Done done;
  };
  struct Entry {
    std::shared_ptr<const Result> value;
    size_t bytes = 0;
    std::list<std::string>::iterator position;  // in order_
  };

  // Runs `leader`'s computation for `key`, whose answer goes to it and to the waiters;
  // when it fails for a reason of its own call, the next waiter's, and so on: in a loop
  // when the computations answer at once (deadlines already passed), never recursing.
  void Start(const std::string& key, Waiter leader) {
    for (;;) {
      // Whether the computation answered inside compute() (then this loop finishes it) or
      // later, from elsewhere (then its callback does).
      struct Handover {
        std::mutex mutex;
        bool returned = false;
        std::optional<StatusOr<Result>> answer;
      };
      auto handover = std::make_shared<Handover>();
      Done done = std::move(leader.done);
      Compute compute = std::move(leader.compute);
      compute([this, key, handover, done](StatusOr<Result> result) mutable {
        {
          std::lock_guard<std::mutex> lock(handover->mutex);
          if (!handover->returned) {
            handover->answer.emplace(std::move(result));
            return;
          }
        }
        if (std::optional<Waiter> next = Finish(key, std::move(result), done)) {
          Start(key, std::move(*next));
        }
      });
      std::optional<StatusOr<Result>> answer;
      {
        std::lock_guard<std::mutex> lock(handover->mutex);
        handover->returned = true;
        answer.swap(handover->answer);
      }
      if (!answer.has_value()) return;  // it answers later
      std::optional<Waiter> next = Finish(key, std::move(*answer), done);
      if (!next.has_value()) return;
      leader = std::move(*next);
    }
  }

  // Answers `done` and the waiters with `result` (and keeps it); or, when it failed for a
  // reason of its own call and others wait, answers `done` alone and returns the waiter
  // that computes next.
  std::optional<Waiter> Finish(const std::string& key, StatusOr<Result> result, const Done& done) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto running = running_.find(key);
    if (!result.ok() && FailureOfTheCall(result.status().code()) && !running->second.empty()) {
      Waiter next = std::move(running->second.front());
      running->second.pop_front();
      --stats_.joined;  // it computes: a miss, not an answer shared
      ++stats_.misses;
      lock.unlock();
      done(std::move(result));
      return next;
    }
    std::deque<Waiter> waiters = std::move(running->second);
    running_.erase(running);
    if (!result.ok()) {
      lock.unlock();
      for (Waiter& w : waiters) w.done(result.status());
      done(std::move(result));
      return std::nullopt;
    }
    auto value = std::make_shared<const Result>(std::move(*result));
    if (!keep_ || keep_(*value)) Keep(key, value);
    lock.unlock();
    for (Waiter& w : waiters) w.done(*value);
    done(*value);
    return std::nullopt;
  }

  // Keeps `value` under `key`, evicting the least recently used entries for room. Called
  // with mutex_ held.
  void Keep(const std::string& key, const std::shared_ptr<const Result>& value) {
    // The result, the key twice (the list's and the map's), the nodes and the shared block.
    const size_t bytes = size_of_(*value) + 2 * key.size() + sizeof(Entry) + sizeof(Result) + 160;
    if (bytes > max_bytes_ / 8) {
      ++stats_.too_large;
      return;
    }
    if (auto old = entries_.find(key); old != entries_.end()) {
      bytes_ -= old->second.bytes;
      order_.erase(old->second.position);
      entries_.erase(old);
    }
    while (bytes_ + bytes > max_bytes_ && !order_.empty()) {
      const auto victim = entries_.find(order_.back());
      bytes_ -= victim->second.bytes;
      entries_.erase(victim);
      order_.pop_back();
      ++stats_.evictions;
    }
    order_.push_front(key);
    entries_[key] = Entry{value, bytes, order_.begin()};
    bytes_ += bytes;
  }

  const size_t max_bytes_;
  const std::function<size_t(const Result&)> size_of_;
  const std::function<bool(const Result&)> keep_;
  mutable std::mutex mutex_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::deque<Waiter>> running_;
  size_t bytes_ = 0;
  ResultCacheStats stats_;
};

}  // namespace xai::core

#endif  // XAI_CORE_BASE_RESULT_CACHE_H_
