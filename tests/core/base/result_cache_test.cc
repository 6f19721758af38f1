#include "core/base/result_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace xai::core {
namespace {

using Cache = ResultCache<std::string>;

// A computation the test finishes by hand: `pending` holds the Done of each started one.
struct Deferred {
  std::vector<Cache::Done> pending;
  int started = 0;
  Cache::Compute Make() {
    return [this](Cache::Done done) {
      ++started;
      pending.push_back(std::move(done));
    };
  }
};

// The answer's text, or its code's name.
std::string Text(const StatusOr<std::string>& r) {
  if (!r.ok()) return std::string(StatusCodeName(r.status().code()));
  return r.value();
}

Cache::Compute Answer(std::string value, int* runs) {
  return [value, runs](Cache::Done done) {
    ++*runs;
    done(value);
  };
}

TEST(ResultCacheTest, TheSameKeyIsComputedOnceThenAnsweredFromMemory) {
  Cache cache(1 << 20, [](const std::string& s) { return s.size(); });
  int runs = 0;
  std::string got;
  auto keep = [&got](StatusOr<std::string> r) { got = Text(r); };
  EXPECT_EQ(cache.Get("a", Answer("map of a", &runs), keep), Cache::Outcome::kMiss);
  EXPECT_EQ(got, "map of a");
  got.clear();
  EXPECT_EQ(cache.Get("a", Answer("other", &runs), keep), Cache::Outcome::kHit);
  EXPECT_EQ(got, "map of a");
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(cache.Get("b", Answer("map of b", &runs), keep), Cache::Outcome::kMiss);
  EXPECT_EQ(got, "map of b");
  const ResultCacheStats s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_GT(s.bytes, 0u);
}

TEST(ResultCacheTest, ConcurrentCallersOfOneKeyShareOneComputation) {
  Cache cache(1 << 20, [](const std::string& s) { return s.size(); });
  Deferred deferred;
  std::vector<std::string> answers(16);
  std::vector<Cache::Outcome> outcomes;
  for (int i = 0; i < 16; ++i) {
    outcomes.push_back(cache.Get("k", deferred.Make(),
                                 [&answers, i](StatusOr<std::string> r) { answers[i] = Text(r); }));
  }
  EXPECT_EQ(deferred.started, 1);
  EXPECT_EQ(outcomes.front(), Cache::Outcome::kMiss);
  for (int i = 1; i < 16; ++i) EXPECT_EQ(outcomes[i], Cache::Outcome::kJoined);
  deferred.pending.front()(std::string("the map"));
  for (const std::string& a : answers) EXPECT_EQ(a, "the map");
  EXPECT_EQ(cache.stats().joined, 15u);
}

TEST(ResultCacheTest, ThreadsAskingOneKeyTogetherComputeItOnce) {
  Cache cache(1 << 20, [](const std::string& s) { return s.size(); });
  std::atomic<int> runs{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      cache.Get(
          "k",
          [&runs, &cache](Cache::Done done) {
            ++runs;
            // Until the 15 others have asked (bounded: a lost caller fails the counts).
            for (int i = 0; i < 10000 && cache.stats().joined < 15; ++i) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            done(std::string("v"));
          },
          [&answered](StatusOr<std::string> r) { answered += Text(r) == "v" ? 1 : 0; });
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(answered.load(), 16);
}

TEST(ResultCacheTest, AFailureOfTheCallPassesTheKeyToTheNextCaller) {
  Cache cache(1 << 20, [](const std::string& s) { return s.size(); });
  Deferred deferred;
  std::vector<std::string> answers(3);
  for (int i = 0; i < 3; ++i) {
    cache.Get("k", deferred.Make(),
              [&answers, i](StatusOr<std::string> r) { answers[i] = Text(r); });
  }
  // The first caller's deadline passes: only it fails; the second computes for the rest.
  deferred.pending[0](DeadlineExceededError("late"));
  EXPECT_EQ(answers[0], "DEADLINE_EXCEEDED");
  ASSERT_EQ(deferred.started, 2);
  deferred.pending[1](std::string("v"));
  EXPECT_EQ(answers[1], "v");
  EXPECT_EQ(answers[2], "v");
  // A failure of the key itself (a bad layer) is every waiter's answer, and is not kept.
  int runs = 0;
  cache.Get("bad", deferred.Make(), [](StatusOr<std::string>) {});
  std::string other;
  cache.Get("bad", deferred.Make(), [&other](StatusOr<std::string> r) { other = Text(r); });
  deferred.pending.back()(InvalidArgumentError("no such layer"));
  EXPECT_EQ(other, "INVALID_ARGUMENT");
  EXPECT_EQ(cache.Get("bad", Answer("now fine", &runs), [](StatusOr<std::string>) {}),
            Cache::Outcome::kMiss);
  EXPECT_EQ(runs, 1);
}

TEST(ResultCacheTest, ALongChainOfCallsPastTheirDeadlineEndsWithoutRecursion) {
  // 20,000 callers wait for one computation that fails with its caller's deadline; each
  // of them, computing next, fails at once the same way: every one gets its own error,
  // in a loop (a recursion this deep, or copying the waiters each time, would not end).
  Cache cache(1 << 20, [](const std::string& s) { return s.size(); });
  Deferred first;
  int answered = 0, computed = 0;
  auto count = [&answered](StatusOr<std::string> r) {
    if (!r.ok() && r.status().code() == StatusCode::kDeadlineExceeded) ++answered;
  };
  cache.Get("k", first.Make(), count);
  for (int i = 0; i < 20000; ++i) {
    cache.Get(
        "k",
        [&computed](Cache::Done done) {
          ++computed;
          done(DeadlineExceededError("already past"));
        },
        count);
  }
  first.pending.front()(DeadlineExceededError("late"));
  EXPECT_EQ(answered, 20001);
  EXPECT_EQ(computed, 20000);
  // A full queue is every waiter's answer, not handed on.
  Deferred busy;
  int refused = 0;
  auto refusal = [&refused](StatusOr<std::string> r) {
    refused += r.status().code() == StatusCode::kResourceExhausted;
  };
  for (int i = 0; i < 3; ++i) cache.Get("q", busy.Make(), refusal);
  busy.pending.front()(ResourceExhaustedError("queue full"));
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(busy.started, 1);
}

TEST(ResultCacheTest, AResultItsKeepSaysNoToIsAnsweredNotKept) {
  Cache cache(
      1 << 20, [](const std::string& s) { return s.size(); },
      [](const std::string& s) { return s != "from another version"; });
  int runs = 0;
  std::string got;
  auto keep = [&got](StatusOr<std::string> r) { got = Text(r); };
  cache.Get("k", Answer("from another version", &runs), keep);
  EXPECT_EQ(got, "from another version");
  EXPECT_EQ(cache.Get("k", Answer("right", &runs), keep), Cache::Outcome::kMiss);
  EXPECT_EQ(cache.Get("k", Answer("again", &runs), keep), Cache::Outcome::kHit);
  EXPECT_EQ(got, "right");
}

TEST(ResultCacheTest, TheByteBoundEvictsTheLeastRecentlyUsed) {
  // Entries of about 1 KB under a 16 KB bound.
  Cache cache(16 << 10, [](const std::string& s) { return s.size(); });
  int runs = 0;
  auto ignore = [](StatusOr<std::string>) {};
  for (int i = 0; i < 200; ++i) {
    cache.Get("key" + std::to_string(i), Answer(std::string(1000, 'x'), &runs), ignore);
    cache.Get("key0", Answer("recomputed", &runs), ignore);  // key0 stays recent
    EXPECT_LE(cache.stats().bytes, size_t{16 << 10});
  }
  const ResultCacheStats s = cache.stats();
  EXPECT_GT(s.evictions, 150u);
  EXPECT_LE(s.entries, 16u);
  EXPECT_EQ(cache.Get("key0", Answer("recomputed", &runs), ignore), Cache::Outcome::kHit);
  EXPECT_EQ(cache.Get("key1", Answer("recomputed", &runs), ignore), Cache::Outcome::kMiss);
  // A result larger than an eighth of the bound is answered, never kept.
  std::string got;
  cache.Get("huge", Answer(std::string(4000, 'y'), &runs),
            [&got](StatusOr<std::string> r) { got = Text(r); });
  EXPECT_EQ(got.size(), 4000u);
  EXPECT_EQ(cache.stats().too_large, 1u);
  EXPECT_EQ(cache.Get("huge", Answer("again", &runs), ignore), Cache::Outcome::kMiss);
}

TEST(ResultCacheTest, ZeroBytesIsOff) {
  Cache cache(0, [](const std::string& s) { return s.size(); });
  int runs = 0;
  auto ignore = [](StatusOr<std::string>) {};
  EXPECT_EQ(cache.Get("a", Answer("v", &runs), ignore), Cache::Outcome::kOff);
  EXPECT_EQ(cache.Get("a", Answer("v", &runs), ignore), Cache::Outcome::kOff);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(cache.stats().entries, 0u);
}

}  // namespace
}  // namespace xai::core
