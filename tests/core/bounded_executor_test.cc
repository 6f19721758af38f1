#include "core/bounded_executor.h"

#include <atomic>
#include <chrono>
#include <future>

#include <gtest/gtest.h>

namespace xai::core {
namespace {

TEST(BoundedExecutorTest, RefusesBeyondCapacityAndRunsEverythingAccepted) {
  BoundedExecutor executor({/*threads=*/1, /*queue_capacity=*/2});
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  ASSERT_TRUE(executor.Submit([&] { started.set_value(); gate.wait(); ++ran; }).ok());
  started.get_future().wait();  // the worker holds task 1; the queue is empty
  EXPECT_TRUE(executor.Submit([&] { ++ran; }).ok());
  EXPECT_TRUE(executor.Submit([&] { ++ran; }).ok());
  const Status full = executor.Submit([&] { ++ran; });
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  release.set_value();
  executor.Shutdown();  // drains the queue
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(executor.Submit([] {}).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace xai::core
