// The scheduler alone, with jobs that record how they were batched and answered.
#include "core/runtime/batch_scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <typeinfo>

namespace xai::core {
namespace {

using ::testing::ElementsAre;
using Clock = BatchJob::Clock;

// What happened to every job: the batches that ran (job ids, in order) and each job's
// answers (codes).
struct Log {
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  std::map<int, std::vector<StatusCode>> answers;

  void Answer(int id, StatusCode code) {
    std::lock_guard<std::mutex> lock(mu);
    answers[id].push_back(code);
  }
  std::vector<std::vector<int>> Batches() {
    std::lock_guard<std::mutex> lock(mu);
    return batches;
  }
  std::map<int, std::vector<StatusCode>> Answers() {
    std::lock_guard<std::mutex> lock(mu);
    return answers;
  }
};

class TestJob : public BatchJob {
 public:
  TestJob(Log& log, int id, std::string key)
      : TestJob(log, id, BatchKey::Of<TestJob>(std::move(key))) {}

  // The job's batch signals `started`, then waits for `gate` (to keep its worker busy).
  void Gate(std::shared_future<void> gate, std::promise<void>* started) {
    gate_ = std::move(gate);
    started_ = started;
  }
  void Deadline(Clock::time_point deadline) { deadline_ = deadline; }
  void CancelFlag(const std::atomic<bool>* flag) { cancelled_ = flag; }

  const BatchKey& batch_key() const override { return key_; }
  Clock::time_point deadline() const override { return deadline_; }
  int id() const { return id_; }
  bool cancelled() const override { return cancelled_ != nullptr && cancelled_->load(); }
  void Fail(const Status& status) override { log_.Answer(id_, status.code()); }
  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    std::vector<int> ids;
    for (auto& job : batch) ids.push_back(static_cast<TestJob*>(job.get())->id_);
    RecordKinds(batch);
    {
      std::lock_guard<std::mutex> lock(log_.mu);
      log_.batches.push_back(ids);
    }
    if (started_ != nullptr) started_->set_value();
    if (gate_.valid()) gate_.wait();
    for (int id : ids) log_.Answer(id, StatusCode::kOk);
  }

 protected:
  TestJob(Log& log, int id, BatchKey key) : log_(log), id_(id), key_(std::move(key)) {}
  // Checks that every job of `batch` is of this job's type.
  virtual void RecordKinds(const std::vector<std::unique_ptr<BatchJob>>& batch) const {
    for (const auto& job : batch) {
      EXPECT_EQ(typeid(*job), typeid(TestJob)) << "job " << id_ << " batched with another type";
    }
  }

 private:
  Log& log_;
  const int id_;
  const BatchKey key_;
  Clock::time_point deadline_ = Clock::time_point::max();
  const std::atomic<bool>* cancelled_ = nullptr;
  std::shared_future<void> gate_;
  std::promise<void>* started_ = nullptr;
};

// A job of another type whose parameters may equal a TestJob's.
class OtherJob : public TestJob {
 public:
  OtherJob(Log& log, int id, std::string key)
      : TestJob(log, id, BatchKey::Of<OtherJob>(std::move(key))) {}

 private:
  void RecordKinds(const std::vector<std::unique_ptr<BatchJob>>& batch) const override {
    for (const auto& job : batch) {
      EXPECT_EQ(typeid(*job), typeid(OtherJob)) << "job " << id() << " batched with another type";
    }
  }
};

// A scheduler whose only worker is held by job 0 until the returned promise is set.
struct Held {
  std::promise<void> release;
  std::unique_ptr<BatchScheduler> scheduler;
};

Held StartHeld(Log& log, BatchSchedulerOptions options) {
  Held held;
  held.scheduler = std::make_unique<BatchScheduler>(options);
  std::promise<void> started;
  auto job = std::make_unique<TestJob>(log, 0, "hold");
  job->Gate(held.release.get_future().share(), &started);
  held.scheduler->Enqueue(std::move(job));
  started.get_future().wait();
  return held;
}

BatchSchedulerOptions Options(int capacity, int max_batch, std::chrono::microseconds delay) {
  BatchSchedulerOptions options;
  options.display_name = "model 'm' v1";
  options.workers = 1;
  options.queue_capacity = capacity;
  options.max_batch_size = max_batch;
  options.max_queue_delay = delay;
  return options;
}

TEST(BatchSchedulerTest, FullQueueRefusesAtOnceAndEveryJobIsAnsweredOnce) {
  Log log;
  Held held = StartHeld(log, Options(2, 1, std::chrono::microseconds(0)));
  for (int id = 1; id <= 4; ++id) held.scheduler->Enqueue(std::make_unique<TestJob>(log, id, "a"));
  // Refused on the calling thread, before the worker is released.
  EXPECT_THAT(log.Answers()[3], ElementsAre(StatusCode::kResourceExhausted));
  EXPECT_THAT(log.Answers()[4], ElementsAre(StatusCode::kResourceExhausted));
  held.release.set_value();
  held.scheduler->Shutdown();
  const auto answers = log.Answers();
  ASSERT_EQ(answers.size(), 5u);
  for (int id : {0, 1, 2}) EXPECT_THAT(answers.at(id), ElementsAre(StatusCode::kOk)) << id;
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(0), ElementsAre(1), ElementsAre(2)));
}

TEST(BatchSchedulerTest, JobsOfTwoTypesNeverShareABatchWhateverTheirParameters) {
  Log log;
  Held held = StartHeld(log, Options(16, 4, std::chrono::microseconds(0)));
  held.scheduler->Enqueue(std::make_unique<TestJob>(log, 1, "same"));
  held.scheduler->Enqueue(std::make_unique<OtherJob>(log, 2, "same"));
  held.scheduler->Enqueue(std::make_unique<TestJob>(log, 3, "same"));
  held.scheduler->Enqueue(std::make_unique<OtherJob>(log, 4, "same"));
  held.release.set_value();
  held.scheduler->Shutdown();
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(0), ElementsAre(1, 3), ElementsAre(2, 4)));
  EXPECT_TRUE(BatchKey::Of<TestJob>("same") == BatchKey::Of<TestJob>("same"));
  EXPECT_FALSE(BatchKey::Of<TestJob>("same") == BatchKey::Of<OtherJob>("same"));
}

TEST(BatchSchedulerTest, BatchesQueuedJobsOfOneKindInOrderUpToTheMaximum) {
  Log log;
  Held held = StartHeld(log, Options(16, 4, std::chrono::microseconds(0)));
  const std::vector<std::pair<int, std::string>> jobs = {{1, "a"}, {2, "b"}, {3, "a"}, {4, "a"},
                                                         {5, "b"}, {6, "a"}, {7, "a"}, {8, "a"}};
  for (const auto& [id, key] : jobs)
    held.scheduler->Enqueue(std::make_unique<TestJob>(log, id, key));
  held.release.set_value();
  held.scheduler->Shutdown();
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(0), ElementsAre(1, 3, 4, 6), ElementsAre(2, 5),
                                         ElementsAre(7, 8)));
  EXPECT_EQ(log.Answers().size(), 9u);
}

TEST(BatchSchedulerTest, WaitsUpToTheDelayForABatchToFill) {
  Log log;
  BatchScheduler scheduler(Options(16, 4, std::chrono::milliseconds(300)));
  const auto start = Clock::now();
  scheduler.Enqueue(std::make_unique<TestJob>(log, 1, "a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  scheduler.Enqueue(std::make_unique<TestJob>(log, 2, "a"));
  while (log.Answers().size() < 2 && Clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));  // the first job's delay
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(1, 2)));
}

TEST(BatchSchedulerTest, AFullBatchDoesNotWaitForTheDelay) {
  Log log;
  BatchScheduler scheduler(Options(16, 2, std::chrono::seconds(10)));
  const auto start = Clock::now();
  scheduler.Enqueue(std::make_unique<TestJob>(log, 1, "a"));
  scheduler.Enqueue(std::make_unique<TestJob>(log, 2, "a"));
  while (log.Answers().size() < 2 && Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(1, 2)));
}

TEST(BatchSchedulerTest, AWorkerWaitingToFillOneKindDoesNotHoldUpAnother) {
  Log log;
  BatchSchedulerOptions options = Options(16, 2, std::chrono::seconds(30));
  options.workers = 2;
  BatchScheduler scheduler(options);
  const auto start = Clock::now();
  scheduler.Enqueue(std::make_unique<TestJob>(log, 1, "a"));  // one worker waits for a second "a"
  scheduler.Enqueue(std::make_unique<TestJob>(log, 2, "b"));
  scheduler.Enqueue(std::make_unique<TestJob>(log, 3, "b"));  // a full "b" batch: the other runs it
  while (log.Answers().size() < 2 && Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(2, 3)));
  scheduler.Shutdown();  // ends the wait for "a"
  EXPECT_EQ(log.Answers().size(), 3u);
}

TEST(BatchSchedulerTest, ABatchDoesNotWaitPastADeadlineOfItsOwn) {
  Log log;
  BatchScheduler scheduler(Options(16, 4, std::chrono::seconds(30)));
  auto job = std::make_unique<TestJob>(log, 1, "a");
  job->Deadline(Clock::now() + std::chrono::seconds(5));
  const auto start = Clock::now();
  scheduler.Enqueue(std::move(job));
  while (log.Answers().empty() && Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  EXPECT_THAT(log.Answers().at(1), ElementsAre(StatusCode::kOk));  // ran, not dropped
}

TEST(BatchSchedulerTest, ExpiredAndCancelledJobsAreAnsweredWithoutRunning) {
  Log log;
  Held held = StartHeld(log, Options(16, 4, std::chrono::microseconds(0)));
  std::atomic<bool> cancel{false};
  auto expiring = std::make_unique<TestJob>(log, 1, "a");
  expiring->Deadline(Clock::now() + std::chrono::milliseconds(20));
  auto cancelled = std::make_unique<TestJob>(log, 2, "a");
  cancelled->CancelFlag(&cancel);
  held.scheduler->Enqueue(std::move(expiring));
  held.scheduler->Enqueue(std::move(cancelled));
  held.scheduler->Enqueue(std::make_unique<TestJob>(log, 3, "a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  cancel = true;
  held.release.set_value();
  held.scheduler->Shutdown();
  const auto answers = log.Answers();
  EXPECT_THAT(answers.at(1), ElementsAre(StatusCode::kDeadlineExceeded));
  EXPECT_THAT(answers.at(2), ElementsAre(StatusCode::kCancelled));
  EXPECT_THAT(answers.at(3), ElementsAre(StatusCode::kOk));
  EXPECT_THAT(log.Batches(), ElementsAre(ElementsAre(0), ElementsAre(3)));
}

TEST(BatchSchedulerTest, AFullQueueDropsExpiredJobsBeforeRefusing) {
  Log log;
  Held held = StartHeld(log, Options(1, 1, std::chrono::microseconds(0)));
  auto expiring = std::make_unique<TestJob>(log, 1, "a");
  expiring->Deadline(Clock::now() + std::chrono::milliseconds(10));
  held.scheduler->Enqueue(std::move(expiring));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  held.scheduler->Enqueue(std::make_unique<TestJob>(log, 2, "a"));  // takes the expired one's place
  EXPECT_THAT(log.Answers().at(1), ElementsAre(StatusCode::kDeadlineExceeded));
  held.release.set_value();
  held.scheduler->Shutdown();
  EXPECT_THAT(log.Answers().at(2), ElementsAre(StatusCode::kOk));
}

TEST(BatchSchedulerTest, ShutdownRunsWhatIsQueuedWithoutWaitingAndRefusesTheRest) {
  Log log;
  BatchScheduler scheduler(Options(16, 8, std::chrono::seconds(30)));
  scheduler.Enqueue(std::make_unique<TestJob>(log, 1, "a"));
  const auto start = Clock::now();
  scheduler.Shutdown();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  scheduler.Enqueue(std::make_unique<TestJob>(log, 2, "a"));
  scheduler.Shutdown();  // idempotent
  const auto answers = log.Answers();
  EXPECT_THAT(answers.at(1), ElementsAre(StatusCode::kOk));
  EXPECT_THAT(answers.at(2), ElementsAre(StatusCode::kUnavailable));
}

TEST(BatchSchedulerTest, EveryWorkerRunsBatchesAtOnce) {
  Log log;
  BatchSchedulerOptions options = Options(16, 1, std::chrono::microseconds(0));
  options.workers = 2;
  BatchScheduler scheduler(options);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> first, second;
  auto a = std::make_unique<TestJob>(log, 1, "a");
  a->Gate(gate, &first);
  auto b = std::make_unique<TestJob>(log, 2, "a");
  b->Gate(gate, &second);
  scheduler.Enqueue(std::move(a));
  scheduler.Enqueue(std::move(b));
  // Both start before either is released: two workers.
  EXPECT_EQ(first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(second.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  release.set_value();
  scheduler.Shutdown();
  EXPECT_EQ(log.Answers().size(), 2u);
}

}  // namespace
}  // namespace xai::core
