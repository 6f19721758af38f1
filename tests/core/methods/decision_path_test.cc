// DecisionPath's engine: covering sets, k-best Viterbi against brute force, and the
// planted paths of a hand-built model recovered exactly.
#include "core/methods/path/decision_path.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/runtime/compute_pool.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::ElementsAre;

TEST(CoveringSetTest, TakesTheFewestLargestPositiveEntriesUpToTheThresholdAndCap) {
  const std::vector<float> w = {0.1f, 0.5f, -2.0f, 0.3f, 0.1f, 0.0f};  // positive total 1.0
  EXPECT_THAT(CoveringSet(w, 0.5f, 16), ElementsAre(1));
  EXPECT_THAT(CoveringSet(w, 0.6f, 16), ElementsAre(1, 3));
  EXPECT_THAT(CoveringSet(w, 0.85f, 16), ElementsAre(1, 3, 0));    // ties: lower index first
  EXPECT_THAT(CoveringSet(w, 1.0f, 16), ElementsAre(1, 3, 0, 4));  // never a non-positive one
  EXPECT_THAT(CoveringSet(w, 1.0f, 2), ElementsAre(1, 3));
  EXPECT_TRUE(CoveringSet({-1.0f, 0.0f}, 0.5f, 16).empty());
}

// Every chain of `graph`, scored as BestChains scores them.
std::vector<PathChainResult> Enumerate(const PathGraph& graph) {
  std::vector<PathChainResult> all;
  const size_t n = graph.sets.size();
  std::vector<int> chain(n);
  std::function<void(size_t, double)> walk = [&](size_t l, double score) {
    if (l == n) {
      for (size_t j = 0; j < graph.sets.back().size(); ++j) {
        if (graph.sets.back()[j] == chain.back())
          all.push_back({chain, score + graph.last_log_share[j]});
      }
      return;
    }
    for (int c : graph.sets[l]) {
      double step = 0;
      if (l > 0) {
        const auto edge = graph.edges[l - 1].find({chain[l - 1], c});
        if (edge == graph.edges[l - 1].end()) continue;
        step = std::log(edge->second);
      }
      chain[l] = c;
      walk(l + 1, score + step);
    }
  };
  walk(0, 0.0);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.log_score != b.log_score ? a.log_score > b.log_score : a.channels < b.channels;
  });
  return all;
}

TEST(BestChainsTest, EqualsBruteForceOnRandomGraphs) {
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<int> layers(1, 5), size(1, 4), channel(0, 9);
  std::uniform_real_distribution<double> weight(0.01, 1.0), coin(0.0, 1.0);
  int nontrivial = 0;
  for (int trial = 0; trial < 300; ++trial) {
    PathGraph graph;
    const int n = layers(rng);
    for (int l = 0; l < n; ++l) {
      std::vector<int> set;
      for (int k = size(rng); k > 0; --k) {
        const int c = channel(rng);
        if (std::find(set.begin(), set.end(), c) == set.end()) set.push_back(c);
      }
      graph.sets.push_back(set);
    }
    for (size_t j = 0; j < graph.sets.back().size(); ++j)
      graph.last_log_share.push_back(std::log(weight(rng)));
    graph.edges.resize(n - 1);
    for (int l = 0; l + 1 < n; ++l) {
      for (int i : graph.sets[l]) {
        for (int o : graph.sets[l + 1]) {
          if (coin(rng) < 0.7) graph.edges[l][{i, o}] = weight(rng);  // some pairs have no edge
        }
      }
    }
    const int k = 1 + trial % 5;
    const auto expected = Enumerate(graph);
    const auto got = BestChains(graph, k);
    ASSERT_EQ(got.size(), std::min<size_t>(k, expected.size())) << "trial " << trial;
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].channels, expected[r].channels) << "trial " << trial << " rank " << r;
      EXPECT_NEAR(got[r].log_score, expected[r].log_score, 1e-9)
          << "trial " << trial << " rank " << r;
    }
    nontrivial += expected.size() > static_cast<size_t>(k);
  }
  EXPECT_GT(nontrivial, 50);  // many graphs had more chains than were asked for
}

class PlantedPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelPoolOptions options;
    options.model_path = xai::testing::FixtureRepo() + "/planted/1/model.pt";
    options.display_name = "planted";
    options.instance_groups = {{{"cpu"}, 1}};
    options.input_shape = {3, 8, 8};
    auto pool = ModelPool::Create(options);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(*pool);
    std::ifstream file(xai::testing::FixtureRepo() + "/planted/expected_chains.json");
    ASSERT_TRUE(file) << "run make_fixtures first";
    expected_ = nlohmann::json::parse(file).get<std::vector<std::vector<int>>>();
    at::manual_seed(17);
    input_ = at::rand({1, 3, 8, 8}) + 0.5;  // positive: every stem channel is active
  }

  // With `compute`, the per-channel backwards run on its helpers too.
  StatusOr<DecisionPathOutput> Path(DecisionPathSpec spec, ComputePool* compute = nullptr) {
    auto instance = pool_->Acquire();
    if (!instance.ok()) return instance.status();
    return RunDecisionPath(*instance, input_, spec, compute);
  }

  static DecisionPathSpec Spec(int target) {
    DecisionPathSpec spec;
    spec.layers = {"stage1", "stage2", "stage3", "stage4"};
    spec.target = target;
    return spec;
  }

  std::unique_ptr<ModelPool> pool_;
  std::vector<std::vector<int>> expected_;
  at::Tensor input_;
};

TEST_F(PlantedPathTest, TheBestChainOfEveryClassIsThePlantedOne) {
  ASSERT_EQ(expected_.size(), 6u);
  for (int k = 0; k < 6; ++k) {
    SCOPED_TRACE("class " + std::to_string(k));
    auto path = Path(Spec(k));
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    EXPECT_EQ(path->target, k);
    ASSERT_FALSE(path->chains.empty());
    EXPECT_EQ(path->chains[0].channels, expected_[k]);
    for (int l = 0; l < 3; ++l) {
      const auto edge =
          std::find_if(path->edges.begin(), path->edges.end(), [&](const PathEdge& e) {
            return e.layer == l && e.from_channel == expected_[k][l] &&
                   e.to_channel == expected_[k][l + 1];
          });
      ASSERT_NE(edge, path->edges.end()) << "no edge into layer " << l + 1;
      EXPECT_GT(edge->weight, 0.8f) << "layer " << l;
    }
    // The last layer's critical set is the class's own channel: the head reads nothing else.
    std::vector<int> last;
    for (const PathNodeResult& node : path->nodes) {
      if (node.layer == 3) last.push_back(node.channel);
    }
    EXPECT_THAT(last, ElementsAre(k));
    // Chains come best first.
    for (size_t r = 1; r < path->chains.size(); ++r) {
      EXPECT_GE(path->chains[r - 1].log_score, path->chains[r].log_score);
    }
  }
}

TEST_F(PlantedPathTest, TheSameRequestGivesTheSameAnswer) {
  // Threshold 1: six critical channels per layer, whose backwards run on several threads:
  // the caller and three helpers of a compute pool.
  DecisionPathSpec spec = Spec(2);
  spec.threshold = 1.0f;
  ComputePool compute(3);
  auto first = Path(spec, &compute);
  auto second = Path(spec, &compute);
  ASSERT_TRUE(first.ok() && second.ok());
  // The last layer has one critical channel (the head reads only channel 2), the others six:
  // every pair between consecutive sets is an edge, as all contributions are positive here.
  EXPECT_EQ(first->edges.size(), 6u + 36u + 36u);
  // Without a pool the same backwards run one by one, on this thread.
  auto sequential = Path(spec);
  ASSERT_TRUE(sequential.ok());
  ASSERT_EQ(sequential->edges.size(), first->edges.size());
  for (size_t i = 0; i < first->edges.size(); ++i) {
    EXPECT_EQ(sequential->edges[i].to_channel, first->edges[i].to_channel);
    EXPECT_NEAR(sequential->edges[i].weight, first->edges[i].weight, 1e-6);
  }
  ASSERT_EQ(first->nodes.size(), second->nodes.size());
  for (size_t i = 0; i < first->nodes.size(); ++i) {
    EXPECT_EQ(first->nodes[i].channel, second->nodes[i].channel);
    EXPECT_EQ(first->nodes[i].relevance, second->nodes[i].relevance);
  }
  ASSERT_EQ(first->edges.size(), second->edges.size());
  for (size_t i = 0; i < first->edges.size(); ++i)
    EXPECT_EQ(first->edges[i].weight, second->edges[i].weight);
  ASSERT_EQ(first->chains.size(), second->chains.size());
  for (size_t i = 0; i < first->chains.size(); ++i) {
    EXPECT_EQ(first->chains[i].channels, second->chains[i].channels);
    EXPECT_EQ(first->chains[i].log_score, second->chains[i].log_score);
  }
}

TEST_F(PlantedPathTest, ThresholdWidensAndCapBoundsTheCriticalSets) {
  auto count = [](const DecisionPathOutput& path, int layer) {
    return std::count_if(path.nodes.begin(), path.nodes.end(),
                         [&](const PathNodeResult& n) { return n.layer == layer; });
  };
  DecisionPathSpec narrow = Spec(1), wide = Spec(1), capped = Spec(1);
  narrow.threshold = 0.5f;
  wide.threshold = 1.0f;  // every channel with a positive weight
  capped.threshold = 1.0f;
  capped.max_channels = 2;
  auto n = Path(narrow), w = Path(wide), c = Path(capped);
  ASSERT_TRUE(n.ok() && w.ok() && c.ok());
  for (int l = 0; l < 3; ++l) {
    EXPECT_EQ(count(*n, l), 1) << "layer " << l << ": the planted channel alone covers half";
    EXPECT_EQ(count(*w, l), 6) << "layer " << l << ": faint mixing reaches every channel";
    EXPECT_EQ(count(*c, l), 2) << "layer " << l;
  }
  EXPECT_EQ(c->chains[0].channels, expected_[1]);  // the cap keeps the strongest
  DecisionPathSpec few = Spec(1);
  few.threshold = 1.0f;
  few.top_chains = 2;
  auto f = Path(few);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->chains.size(), 2u);
}

TEST_F(PlantedPathTest, DefaultTargetIsTheTopClass) {
  auto path = Path(Spec(-1));
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->target, static_cast<int>(path->logits.argmax().item<int64_t>()));
}

// Batched transitions (one backward of a batch through the stage alone) against the
// sequential products, on resnet18's residual stages, where either can be forced.
class BatchedTransitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelPoolOptions options;
    options.model_path = xai::testing::FixtureRepo() + "/resnet18/1/model.pt";
    options.display_name = "resnet18";
    options.instance_groups = {{{"cpu"}, 1}};
    options.input_shape = {3, 224, 224};
    auto pool = ModelPool::Create(options);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(*pool);
    at::manual_seed(23);
    input_ = at::randn({1, 3, 224, 224});
  }

  DecisionPathOutput Path(std::vector<std::string> layers, PathTransitions transitions) {
    auto instance = pool_->Acquire();
    EXPECT_TRUE(instance.ok());
    DecisionPathSpec spec;
    spec.layers = std::move(layers);
    spec.target = 3;
    spec.transitions = transitions;
    auto path = RunDecisionPath(*instance, input_, spec);
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? std::move(*path) : DecisionPathOutput{};
  }

  static void ExpectSameGraph(const DecisionPathOutput& a, const DecisionPathOutput& b) {
    ASSERT_EQ(a.nodes.size(), b.nodes.size());
    for (size_t i = 0; i < a.nodes.size(); ++i) {
      EXPECT_EQ(a.nodes[i].layer, b.nodes[i].layer);
      EXPECT_EQ(a.nodes[i].channel, b.nodes[i].channel);
    }
    ASSERT_EQ(a.edges.size(), b.edges.size());
    for (size_t i = 0; i < a.edges.size(); ++i) {
      EXPECT_EQ(a.edges[i].from_channel, b.edges[i].from_channel);
      EXPECT_EQ(a.edges[i].to_channel, b.edges[i].to_channel);
      EXPECT_NEAR(a.edges[i].weight, b.edges[i].weight, 1e-4);
    }
    ASSERT_EQ(a.chains.size(), b.chains.size());
    for (size_t i = 0; i < a.chains.size(); ++i) {
      EXPECT_EQ(a.chains[i].channels, b.chains[i].channels);
      EXPECT_NEAR(a.chains[i].log_score, b.chains[i].log_score, 1e-4);
    }
  }

  std::unique_ptr<ModelPool> pool_;
  at::Tensor input_;
};

TEST_F(BatchedTransitionTest, EqualsTheSequentialProductsOnResidualStages) {
  const std::vector<std::string> layers = {"layer1", "layer2", "layer3", "layer4"};
  const DecisionPathOutput sequential = Path(layers, PathTransitions::kSequential);
  const DecisionPathOutput batched = Path(layers, PathTransitions::kBatched);
  EXPECT_THAT(sequential.batched_transitions, ElementsAre(false, false, false));
  // Each layerN reads exactly layerN-1's output, so every transition ran batched.
  EXPECT_THAT(batched.batched_transitions, ElementsAre(true, true, true));
  EXPECT_GT(sequential.edges.size(), 10u);
  ExpectSameGraph(sequential, batched);
  // On a CPU the default is sequential.
  EXPECT_THAT(Path(layers, PathTransitions::kAuto).batched_transitions,
              ElementsAre(false, false, false));
}

TEST_F(BatchedTransitionTest, FallsBackWhereTheStageReadsAnotherLayer) {
  // layer3 reads layer2's output, not layer1's: its batch cannot be run from layer1's
  // capture (another shape), so that transition falls back; layer4 reads layer3's.
  const std::vector<std::string> layers = {"layer1", "layer3", "layer4"};
  const DecisionPathOutput batched = Path(layers, PathTransitions::kBatched);
  EXPECT_THAT(batched.batched_transitions, ElementsAre(false, true));
  ExpectSameGraph(Path(layers, PathTransitions::kSequential), batched);
  // The blocks of one stage: layer4.1 reads layer4.0's output.
  const std::vector<std::string> blocks = {"layer4.0", "layer4.1"};
  const DecisionPathOutput block_batched = Path(blocks, PathTransitions::kBatched);
  EXPECT_THAT(block_batched.batched_transitions, ElementsAre(true));
  ExpectSameGraph(Path(blocks, PathTransitions::kSequential), block_batched);
}

}  // namespace
}  // namespace xai::core
