// Versions owned by the repository: Unload drains what is queued (each request answered,
// none dropped) on the unloading thread, queued work pins its model, Load brings a model
// back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/repository/model_repository.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// What the queued jobs saw: their answers and the threads that ran them.
struct Record {
  std::mutex mu;
  std::map<int, std::vector<StatusCode>> answers;
  std::set<std::thread::id> threads;
};

// A job that pins its model as request jobs do and, for job 0, holds its worker until
// `gate` opens.
class PinningJob : public BatchJob {
 public:
  PinningJob(Record& record, int id, std::shared_ptr<const ServableModel> model,
             std::shared_future<void> gate = {}, std::promise<void>* started = nullptr)
      : record_(record), id_(id), model_(std::move(model)), gate_(gate), started_(started) {}

  const BatchKey& batch_key() const override { return key_; }
  Clock::time_point deadline() const override { return Clock::time_point::max(); }
  bool cancelled() const override { return false; }
  void Fail(const Status& status) override { Answer(status.code()); }
  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    if (started_ != nullptr) started_->set_value();
    if (gate_.valid()) gate_.wait();
    for (auto& job : batch) {
      auto* pinning = static_cast<PinningJob*>(job.get());
      // The model is alive while its job runs, whatever the repository did meanwhile.
      EXPECT_GT(pinning->model_->pool->size(), 0);
      pinning->Answer(StatusCode::kOk);
    }
  }

 private:
  void Answer(StatusCode code) {
    std::lock_guard<std::mutex> lock(record_.mu);
    record_.answers[id_].push_back(code);
    record_.threads.insert(std::this_thread::get_id());
  }

  Record& record_;
  const int id_;
  const std::shared_ptr<const ServableModel> model_;
  const BatchKey key_ = BatchKey::Of<PinningJob>("");
  std::shared_future<void> gate_;
  std::promise<void>* started_;
};

class ModelLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A repository of one small model, copied from the fixtures (a link would leave the
    // repository, which the repository refuses).
    root_ = fs::path(::testing::TempDir()) / ("xai_lifecycle_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(fs::path(xai::testing::FixtureRepo()) / "tiny", root_ / "tiny",
             fs::copy_options::recursive);
    auto repository = ModelRepository::Create({root_.string(), std::chrono::seconds(30), 64});
    ASSERT_TRUE(repository.ok()) << repository.status().ToString();
    repository_ = std::move(*repository);
    repository_->LoadAll();
    ASSERT_TRUE(repository_->Get("tiny", 0).ok());
  }
  void TearDown() override {
    repository_.reset();
    fs::remove_all(root_);
  }

  fs::path root_;
  std::unique_ptr<ModelRepository> repository_;
};

TEST_F(ModelLifecycleTest, UnloadAnswersEveryQueuedRequestAndReleasesOnItsOwnThread) {
  Record record;
  std::weak_ptr<const ServableModel> model;
  std::weak_ptr<ModelVersion> weak_version;
  std::promise<void> release;
  constexpr int kQueued = 12;
  size_t held = 0;
  {
    auto version = repository_->GetVersion("tiny", 0);
    ASSERT_TRUE(version.ok()) << version.status().ToString();
    model = (*version)->shared_model();
    weak_version = *version;
    BatchScheduler& scheduler = (*version)->scheduler();
    // One held job per worker (tiny has two instances), so that the rest stays queued.
    const int workers = scheduler.options().workers;
    std::shared_future<void> gate = release.get_future().share();
    std::vector<std::promise<void>> started(workers);
    for (int w = 0; w < workers; ++w) {
      scheduler.Enqueue(std::make_unique<PinningJob>(record, -1 - w, (*version)->shared_model(),
                                                     gate, &started[w]));
      started[w].get_future().wait();
    }
    for (int id = 1; id <= kQueued; ++id) {
      scheduler.Enqueue(std::make_unique<PinningJob>(record, id, (*version)->shared_model()));
    }
    EXPECT_EQ(scheduler.queued(), kQueued);
    held = static_cast<size_t>(workers);
  }

  const std::thread::id unloading_thread_id = std::this_thread::get_id();
  auto unloaded = std::async(std::launch::async, [&] {
    const Status status = repository_->Unload("tiny");
    return std::make_pair(status, std::this_thread::get_id());
  });
  // Out of service at once, while its queue drains.
  for (int i = 0; i < 200 && repository_->Get("tiny", 0).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(repository_->Get("tiny", 0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(unloaded.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout)
      << "Unload returned before the queued requests ran";
  release.set_value();
  ASSERT_EQ(unloaded.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "Unload did not return: a thread joined itself or a request was lost";
  const auto [status, unloader] = unloaded.get();
  EXPECT_TRUE(status.ok()) << status.ToString();

  // Every request answered exactly once, by running (none dropped).
  ASSERT_EQ(record.answers.size(), kQueued + held);
  for (const auto& [id, codes] : record.answers) {
    EXPECT_THAT(codes, ::testing::ElementsAre(StatusCode::kOk)) << "job " << id;
  }
  // Run by the version's worker, released by the unloading thread: both gone now.
  EXPECT_EQ(record.threads.count(unloader), 0u);
  EXPECT_NE(unloader, unloading_thread_id);
  EXPECT_TRUE(weak_version.expired());
  EXPECT_TRUE(model.expired());
  for (const ModelVersionStatus& s : repository_->List()) {
    EXPECT_EQ(s.state, ModelState::kUnloaded) << s.name << " v" << s.version;
    EXPECT_EQ(s.reason, "unloaded");
  }
}

TEST_F(ModelLifecycleTest, ARequestQueuedAfterUnloadIsRefusedNotLost) {
  auto version = repository_->GetVersion("tiny", 0);
  ASSERT_TRUE(version.ok());
  std::shared_ptr<ModelVersion> held = *version;  // as a handler that looked it up just before
  ASSERT_TRUE(repository_->Unload("tiny").ok());
  Record record;
  held->scheduler().Enqueue(std::make_unique<PinningJob>(record, 1, held->shared_model()));
  EXPECT_THAT(record.answers[1], ::testing::ElementsAre(StatusCode::kUnavailable));
}

TEST_F(ModelLifecycleTest, ReloadServesANewLoadOnceReadyAndDrainsThePreviousOne) {
  Record record;
  std::weak_ptr<ModelVersion> old_version;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  int held = 0;
  {
    auto version = repository_->GetVersion("tiny", 0);
    ASSERT_TRUE(version.ok());
    old_version = *version;
    BatchScheduler& scheduler = (*version)->scheduler();
    held = scheduler.options().workers;
    std::vector<std::promise<void>> started(held);
    for (int w = 0; w < held; ++w) {
      scheduler.Enqueue(std::make_unique<PinningJob>(record, -1 - w, (*version)->shared_model(),
                                                     gate, &started[w]));
      started[w].get_future().wait();
    }
    for (int id = 1; id <= 5; ++id) {
      scheduler.Enqueue(std::make_unique<PinningJob>(record, id, (*version)->shared_model()));
    }
  }
  auto reloaded = std::async(std::launch::async, [&] { return repository_->Reload("tiny"); });
  // The new load takes the lookups while the previous one still holds its queue.
  bool swapped = false;
  for (int i = 0; i < 1000 && !swapped; ++i) {
    auto now = repository_->GetVersion("tiny", 0);
    ASSERT_TRUE(now.ok()) << "the model stopped serving during the reload: "
                          << now.status().ToString();
    swapped = now->get() != old_version.lock().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(swapped);
  EXPECT_EQ(reloaded.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout)
      << "Reload returned before the previous load's queue was answered";
  release.set_value();
  ASSERT_EQ(reloaded.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(reloaded.get().ok());
  ASSERT_EQ(record.answers.size(), 5u + held);
  for (const auto& [id, codes] : record.answers) {
    EXPECT_THAT(codes, ::testing::ElementsAre(StatusCode::kOk)) << "job " << id;
  }
  EXPECT_TRUE(old_version.expired());
  const auto listed = repository_->List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state, ModelState::kReady);
  EXPECT_EQ(listed[0].reason, "");
}

TEST_F(ModelLifecycleTest, AReloadThatFailsLeavesTheServingLoadAndSaysWhy) {
  auto before = repository_->GetVersion("tiny", 0);
  ASSERT_TRUE(before.ok());
  std::ofstream(root_ / "tiny" / "1" / "model.pt", std::ios::trunc) << "truncated";
  const Status reloaded = repository_->Reload("tiny");
  EXPECT_FALSE(reloaded.ok());
  EXPECT_THAT(reloaded.message(), HasSubstr("reloading failed, the loaded version keeps serving"));
  auto after = repository_->GetVersion("tiny", 0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(before->get(), after->get());
  const auto listed = repository_->List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state, ModelState::kReady);
  EXPECT_THAT(listed[0].reason, HasSubstr("serving the previous load; reloading failed"));
}

TEST_F(ModelLifecycleTest, ReloadLoadsNewVersionsAndDrainsThoseGoneFromDisk) {
  fs::copy(root_ / "tiny" / "1", root_ / "tiny" / "2", fs::copy_options::recursive);
  ASSERT_TRUE(repository_->Reload("tiny").ok());
  auto newest = repository_->Get("tiny", 0);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ((*newest)->version, 2);
  fs::remove_all(root_ / "tiny" / "1");
  ASSERT_TRUE(repository_->Reload("tiny").ok());
  auto listed = repository_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].state, ModelState::kUnloaded);
  EXPECT_EQ(listed[0].reason, "removed from the repository");
  EXPECT_EQ(listed[1].state, ModelState::kReady);
  fs::remove_all(root_ / "tiny");
  ASSERT_TRUE(repository_->Reload("tiny").ok());
  for (const ModelVersionStatus& s : repository_->List()) {
    EXPECT_NE(s.state, ModelState::kReady) << s.version;
  }
  EXPECT_EQ(repository_->Reload("never").code(), StatusCode::kNotFound);
  EXPECT_EQ(repository_->Reload("../tiny").code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelLifecycleTest, LoadBringsAnUnloadedModelBackAndChecksItsName) {
  ASSERT_TRUE(repository_->Unload("tiny").ok());
  EXPECT_EQ(repository_->Get("tiny", 0).status().code(), StatusCode::kUnavailable);
  const Status loaded = repository_->Load("tiny");
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  EXPECT_TRUE(repository_->Get("tiny", 0).ok());
  // Loading a model that is READY keeps its version serving.
  auto before = repository_->GetVersion("tiny", 0);
  ASSERT_TRUE(repository_->Load("tiny").ok());
  auto after = repository_->GetVersion("tiny", 0);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->get(), after->get());

  EXPECT_EQ(repository_->Load("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(repository_->Load("../tiny").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repository_->Unload("nope").code(), StatusCode::kNotFound);
  EXPECT_THAT(repository_->Unload("nope").message(), HasSubstr("nope"));
}

}  // namespace
}  // namespace xai::core
