// The compute pool alone: every item runs once, on the caller and the free helpers, and
// concurrent callers never wait for each other's items.
#include "core/runtime/compute_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace xai::core {
namespace {

using ::testing::HasSubstr;

TEST(ComputePoolTest, RunsEveryItemOnceOnTheCallerAndTheHelpers) {
  ComputePool pool(3);
  EXPECT_EQ(pool.helpers(), 3);
  std::vector<std::atomic<int>> runs(64);
  std::mutex mu;
  std::set<std::thread::id> threads;
  const Status status = pool.ForEach(runs.size(), [&](size_t k) {
    runs[k].fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  for (size_t k = 0; k < runs.size(); ++k) EXPECT_EQ(runs[k].load(), 1) << k;
  EXPECT_GT(threads.size(), 1u) << "the helpers took no item";
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 1u) << "the caller took no item";
}

TEST(ComputePoolTest, WithoutHelpersTheCallerRunsEverything) {
  ComputePool pool(0);
  std::set<std::thread::id> threads;
  int count = 0;
  ASSERT_TRUE(pool.ForEach(10,
                           [&](size_t) {
                             threads.insert(std::this_thread::get_id());
                             ++count;
                           })
                  .ok());
  EXPECT_EQ(count, 10);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_TRUE(pool.ForEach(0, [](size_t) { FAIL() << "no item to run"; }).ok());
}

TEST(ComputePoolTest, AnExceptionIsInternalAndTheOtherItemsStillRun) {
  ComputePool pool(1);
  std::atomic<int> count{0};
  const Status status = pool.ForEach(8, [&](size_t k) {
    ++count;
    if (k == 3) throw std::runtime_error("item 3 broke");
  });
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("item 3 broke"));
  EXPECT_EQ(count.load(), 8);
}

TEST(ComputePoolTest, ABusyPoolLeavesTheWorkToItsCallerInsteadOfBlockingIt) {
  ComputePool pool(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> helper_busy;
  // The first caller's items hold the one helper until released.
  std::thread first([&] {
    std::atomic<bool> signalled{false};
    ASSERT_TRUE(pool.ForEach(2,
                             [&](size_t) {
                               if (!signalled.exchange(true)) helper_busy.set_value();
                               gate.wait();
                             })
                    .ok());
  });
  helper_busy.get_future().wait();
  // A second caller finishes on its own thread while the helper is held.
  std::atomic<int> count{0};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pool.ForEach(4, [&](size_t) { ++count; }).ok());
  EXPECT_EQ(count.load(), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  release.set_value();
  first.join();
}

}  // namespace
}  // namespace xai::core
