// The version lifecycle on its own (core/repository/version_states.h), with an int for what
// serves: every transition, the rules that make an Unload or a shutdown win over a load in
// flight, the lookups' codes and messages, and the transitions raced from many threads
// (also under ThreadSanitizer, in tsan_test).
#include "core/repository/version_states.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace xai::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Serving = std::shared_ptr<int>;
using States = VersionStates<Serving>;

Serving Copy(int id) { return std::make_shared<int>(id); }

// "name vN STATE reason" per row, sorted.
std::vector<std::string> Rows(const States& states) {
  std::vector<std::string> rows;
  for (const States::Row& row : states.List()) {
    rows.push_back(row.name + " v" + std::to_string(row.version) + " " + ModelStateName(row.state) +
                   (row.reason.empty() ? "" : " " + row.reason) +
                   (row.serving ? " serving " + std::to_string(*row.serving) : ""));
  }
  return rows;
}

TEST(VersionStatesTest, ALoadsOutcomeIsRecordedOnlyWhileTheVersionIsLoading) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}, {"b", 1}});
  EXPECT_THAT(Rows(states), ElementsAre("a v1 LOADING", "a v2 LOADING", "b v1 LOADING"));
  EXPECT_TRUE(states.Finish("a", 1, ModelState::kReady, "", Copy(11)));
  EXPECT_TRUE(states.Finish("a", 2, ModelState::kFailed, "bad weights"));
  EXPECT_FALSE(states.Finish("a", 1, ModelState::kFailed, "late"));  // READY stays READY
  EXPECT_THAT(Rows(states),
              ElementsAre("a v1 READY serving 11", "a v2 FAILED bad weights", "b v1 LOADING"));
  auto newest = states.Find("a", 0);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(**newest, 11);  // v2 is newer but FAILED
}

TEST(VersionStatesTest, AnUnloadWinsOverALoadInFlight) {
  States states;
  states.ListLoading({{"a", 1}});
  auto retired = states.Unload("a");
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->empty());  // nothing served yet
  bool stopped = true;
  EXPECT_FALSE(states.Finish("a", 1, ModelState::kReady, "", Copy(1), &stopped));
  EXPECT_FALSE(stopped);
  EXPECT_THAT(Rows(states), ElementsAre("a v1 UNLOADED unloaded"));
  EXPECT_EQ(states.Find("a", 1).status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(states.Find("a", 1).status().message()),
              HasSubstr("model \"a\" v1 is UNLOADED: unloaded"));
  EXPECT_EQ(states.Unload("nope").status().code(), StatusCode::kNotFound);
}

TEST(VersionStatesTest, UnloadHandsBackWhatServedForDraining) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}});
  states.Finish("a", 1, ModelState::kReady, "", Copy(1));
  states.Finish("a", 2, ModelState::kReady, "", Copy(2));
  auto retired = states.Unload("a");
  ASSERT_TRUE(retired.ok());
  ASSERT_EQ(retired->size(), 2u);
  EXPECT_EQ(*(*retired)[0], 1);
  EXPECT_EQ(*(*retired)[1], 2);
  EXPECT_TRUE(states.Ready().empty());
  EXPECT_THAT(Rows(states), ElementsAre("a v1 UNLOADED unloaded", "a v2 UNLOADED unloaded"));
}

TEST(VersionStatesTest, LoadBeginsOnlyVersionsNeitherReadyNorLoading) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}, {"a", 3}});
  states.Finish("a", 1, ModelState::kReady, "", Copy(1));
  states.Finish("a", 3, ModelState::kFailed, "bad");
  auto begun = states.BeginLoad("a", {1, 2, 3, 4});
  ASSERT_TRUE(begun.ok());
  EXPECT_THAT(*begun, ElementsAre(3, 4));
  EXPECT_THAT(Rows(states),
              ElementsAre("a v1 READY serving 1", "a v2 LOADING", "a v3 LOADING", "a v4 LOADING"));
  // No version on disk: nothing begins, and the model is not made known.
  auto none = states.BeginLoad("b", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(states.Knows("b"));
}

TEST(VersionStatesTest, ReloadReplacesReadyLoadsTheRestAndRetiresWhatLeftTheDisk) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}, {"a", 3}, {"a", 4}});
  states.Finish("a", 1, ModelState::kReady, "", Copy(1));
  states.Finish("a", 2, ModelState::kFailed, "bad");
  states.Finish("a", 3, ModelState::kReady, "", Copy(3));
  // v4 still LOADING: left to its load, on disk or not.
  auto plan = states.BeginReload("a", {1, 2, 5});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->replace, ElementsAre(1));
  EXPECT_THAT(plan->fresh, ElementsAre(2, 5));
  ASSERT_EQ(plan->removed.size(), 1u);
  EXPECT_EQ(*plan->removed[0], 3);
  EXPECT_THAT(Rows(states), ElementsAre("a v1 READY serving 1", "a v2 LOADING",
                                        "a v3 UNLOADED removed from the repository", "a v4 LOADING",
                                        "a v5 LOADING"));
  // The new copy of v1 replaces the serving one, which comes back to be drained.
  auto previous = states.Replace("a", 1, Copy(101));
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(**previous, 1);
  EXPECT_EQ(**states.Find("a", 1), 101);
  // Not READY: nothing is replaced.
  EXPECT_FALSE(states.Replace("a", 3, Copy(103)).has_value());
}

TEST(VersionStatesTest, AFailedReloadKeepsServingAndSaysSo) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}});
  states.Finish("a", 1, ModelState::kReady, "", Copy(1));
  states.Finish("a", 2, ModelState::kFailed, "bad");
  states.NoteReloadFailure("a", 1, "the new weights are broken");
  states.NoteReloadFailure("a", 2, "ignored: not serving");
  EXPECT_THAT(Rows(states),
              ElementsAre("a v1 READY serving the previous load; reloading failed: the new "
                          "weights are broken serving 1",
                          "a v2 FAILED bad"));
  EXPECT_TRUE(states.Find("a", 1).ok());
}

TEST(VersionStatesTest, OnceStoppedNothingBeginsAndNothingIsSwappedIn) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}});
  states.Finish("a", 1, ModelState::kReady, "", Copy(1));
  const std::vector<Serving> serving = states.Stop();
  ASSERT_EQ(serving.size(), 1u);
  EXPECT_EQ(*serving[0], 1);
  EXPECT_TRUE(states.stopped());
  EXPECT_EQ(states.BeginLoad("a", {3}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(states.BeginReload("a", {1}).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(states.Replace("a", 1, Copy(101)).has_value());
  bool stopped = false;
  EXPECT_TRUE(states.Finish("a", 2, ModelState::kReady, "", Copy(2), &stopped));
  EXPECT_TRUE(stopped);  // the caller drains it: it takes no request
}

TEST(VersionStatesTest, LookupsAnswerWithTheirCodeAndAShortMessage) {
  States states;
  EXPECT_THAT(std::string(states.Find("x", 0).status().message()),
              HasSubstr("model \"x\" not found; the repository has: no model"));
  std::vector<std::pair<std::string, int64_t>> many;
  for (int i = 0; i < 25; ++i) many.emplace_back("m" + std::to_string(10 + i), 1);
  states.ListLoading(many);
  const Status missing = states.Find("x", 0).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("m10, m11,"));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("m29, ... (25 models)"));
  states.ListLoading({{"a", 1}, {"a", 2}});
  states.Finish("a", 1, ModelState::kFailed, "bad");
  const Status no_ready = states.Find("a", 0).status();
  EXPECT_EQ(no_ready.code(), StatusCode::kUnavailable);
  EXPECT_EQ(std::string(no_ready.message()),
            "model \"a\" has no ready version: v1 FAILED (bad); v2 LOADING");
  const Status no_version = states.Find("a", 7).status();
  EXPECT_EQ(no_version.code(), StatusCode::kNotFound);
  EXPECT_EQ(std::string(no_version.message()), "model \"a\" has no version 7; versions: 1, 2");
}

// Loads, unloads, reloads and lookups raced: every lookup gets READY's copy or a code, every
// copy handed back is one that served, and the table ends in states the rules allow.
TEST(VersionStatesTest, TransitionsRacedFromManyThreadsKeepTheRules) {
  States states;
  states.ListLoading({{"a", 1}, {"a", 2}});
  std::atomic<bool> done{false};
  std::atomic<int> served{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const int64_t version = 1 + (i + t) % 2;
        states.Finish("a", version, ModelState::kReady, "", Copy(i));
        if (i % 7 == 0) (void)states.Unload("a");
        if (i % 5 == 0) (void)states.BeginLoad("a", {1, 2});
        if (i % 11 == 0) {
          auto plan = states.BeginReload("a", {1, 2});
          if (plan.ok()) {
            for (int64_t v : plan->replace) (void)states.Replace("a", v, Copy(-i));
          }
        }
      }
    });
  }
  threads.emplace_back([&] {  // at least 1000 lookups, however the threads are scheduled
    for (int i = 0; !done || i < 1000; ++i) {
      auto found = states.Find("a", 0);
      if (found.ok()) {
        EXPECT_NE(*found, nullptr);
        ++served;
      } else {
        EXPECT_TRUE(found.status().code() == StatusCode::kUnavailable) << found.status().message();
        ++refused;
      }
    }
  });
  threads[0].join();
  threads[1].join();
  done = true;
  threads[2].join();
  EXPECT_GE(served.load() + refused.load(), 1000);
  for (const States::Row& row : states.List()) {
    EXPECT_EQ(row.state == ModelState::kReady, row.serving != nullptr) << row.version;
  }
}

}  // namespace
}  // namespace xai::core
