// The faithfulness metrics (core/methods/faithfulness): their parts by construction, and the
// whole procedure against the eager-PyTorch reference of tools/cam_reference.py on the
// reference's own Grad-CAM maps. Grad-CAM against a random map on the demo model:
// demo_model_test.
#include "core/methods/faithfulness/faithfulness.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/methods/faithfulness/faithfulness_metrics.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

TEST(FaithfulnessTest, CurveAreaIsTheTrapezoidRule) {
  EXPECT_FLOAT_EQ(CurveArea({1, 1, 1}), 1.0f);
  EXPECT_FLOAT_EQ(CurveArea({1, 0}), 0.5f);
  EXPECT_FLOAT_EQ(CurveArea({0, 1, 0, 1, 0}), 0.5f);
  EXPECT_FLOAT_EQ(CurveArea({0.2f, 0.6f, 1.0f}), 0.6f);
}

TEST(FaithfulnessTest, StepsCoverThePixelsInFloors) {
  EXPECT_EQ(StepPixels(0, 10, 3), 0);
  EXPECT_EQ(StepPixels(1, 10, 3), 3);
  EXPECT_EQ(StepPixels(2, 10, 3), 6);
  EXPECT_EQ(StepPixels(3, 10, 3), 10);
  const std::vector<Perturbation> steps = CurveSteps(10, 3, true);
  ASSERT_EQ(steps.size(), 2u);  // the ends are the input and the blurred copy
  EXPECT_EQ(steps[1].top, 6);
  EXPECT_TRUE(steps[1].top_from_input);
}

TEST(FaithfulnessTest, RanksSortDescendingWithTiesByPixelIndex) {
  const at::Tensor map = at::tensor({0.5f, 0.0f, 0.9f, 0.5f, 0.0f, 1.0f}).view({2, 3});
  const at::Tensor ranks = PixelRanks(map);
  const std::vector<int64_t> expected = {2, 4, 1, 3, 5, 0};
  ASSERT_EQ(ranks.numel(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ranks[i].item<int64_t>(), expected[i]) << i;
}

TEST(FaithfulnessTest, TheRandomMapIsAFixedPermutation) {
  const at::Tensor a = RandomPixelRanks(1000), b = RandomPixelRanks(1000);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_TRUE(at::equal(std::get<0>(at::sort(a)), at::arange(1000, at::kLong)));
  EXPECT_FALSE(at::equal(a, at::arange(1000, at::kLong)));
}

TEST(FaithfulnessTest, TheBlurIsANormalisedGaussianWithZeroPadding) {
  // A constant image stays constant away from the borders, and loses weight at them.
  const at::Tensor constant = at::ones({1, 3, 32, 32});
  const at::Tensor blurred = BlurredCopy(constant);
  ASSERT_EQ(blurred.sizes(), constant.sizes());
  EXPECT_NEAR(blurred[0][1][16][16].item<float>(), 1.0f, 1e-6);
  EXPECT_LT(blurred[0][1][0][0].item<float>(), 0.5f);
  // An impulse spreads to the kernel: symmetric, exp(-d^2 / 50) relative to its centre.
  at::Tensor impulse = at::zeros({1, 1, 21, 21});
  impulse[0][0][10][10] = 1;
  const at::Tensor k = BlurredCopy(impulse)[0][0];
  EXPECT_NEAR(k.sum().item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR((k[10][13] / k[10][10]).item<float>(), std::exp(-9.0 / 50), 1e-5);
  EXPECT_NEAR((k[7][10] / k[10][10]).item<float>(), std::exp(-9.0 / 50), 1e-5);
  EXPECT_EQ(k[10][16].item<float>(), 0.0f);  // 11 taps: 5 on each side
}

using xai::testing::CamReferenceDir;

std::unique_ptr<ModelPool> LoadReferenceModel(const std::string& name, int64_t size = 224) {
  ModelPoolOptions options;
  options.model_path = CamReferenceDir() + "/" + name + "/1/model.pt";
  options.display_name = "model '" + name + "' v1";
  options.instance_groups = {{{"cpu"}, 1}};
  options.input_shape = {3, size, size};
  auto pool = ModelPool::Create(options);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? std::move(*pool) : nullptr;
}

void ExpectNear(const std::vector<float>& actual, const nlohmann::json& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double e = expected[i].get<double>();
    EXPECT_NEAR(actual[i], e, 1e-6 + 1e-3 * std::abs(e)) << "point " << i;
  }
}

TEST(FaithfulnessReferenceTest, MatchesTheEagerReferenceOnItsGradCamMaps) {
  std::ifstream manifest_file(CamReferenceDir() + "/cases.json");
  ASSERT_TRUE(manifest_file) << "run make_cam_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(manifest_file);
  int cases = 0;
  for (const nlohmann::json& c : manifest) {
    if (!c.contains("faithfulness")) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    ++cases;
    const nlohmann::json& f = c["faithfulness"];
    const int64_t size = c["size"].get<int64_t>();  // the input's height and width
    auto pool = LoadReferenceModel(c["model"].get<std::string>(), size);
    ASSERT_NE(pool, nullptr);
    auto instance = pool->Acquire();
    ASSERT_TRUE(instance.ok());
    std::vector<float> input =
        xai::testing::ReadFloats(CamReferenceDir() + "/" + c["input"].get<std::string>());
    ASSERT_EQ(static_cast<int64_t>(input.size()), 3 * size * size);
    const at::Tensor x = at::from_blob(input.data(), {1, 3, size, size}, at::kFloat).clone();
    std::vector<float> cams = xai::testing::ReadFloats(
        CamReferenceDir() + "/" +
        c["maps"][f["method"].get<std::string>()]["cam"].get<std::string>());
    const auto& targets = c["targets"];
    ASSERT_EQ(static_cast<int64_t>(cams.size()),
              static_cast<int64_t>(targets.size()) * size * size);
    const at::Tensor all =
        at::from_blob(cams.data(), {static_cast<int64_t>(targets.size()), size, size}, at::kFloat)
            .clone();
    std::vector<ScoredMap> maps;
    for (size_t t = 0; t < targets.size(); ++t) maps.push_back({targets[t].get<int>(), all[t]});
    FaithfulnessSpec spec;
    spec.steps = f["steps"].get<int>();
    spec.batch_size = 7;  // batches that split the metrics' rows apart
    auto scores = ScoreMaps(*instance, x, maps, spec);
    ASSERT_TRUE(scores.ok()) << scores.status().ToString();
    ASSERT_EQ(scores->size(), targets.size());
    for (size_t t = 0; t < targets.size(); ++t) {
      SCOPED_TRACE("target " + std::to_string(targets[t].get<int>()));
      const nlohmann::json& e = f["scores"][t];
      const FaithfulnessResult& r = (*scores)[t];
      ExpectNear({r.probability, r.blurred_probability},
                 {e["probability"], e["blurred_probability"]});
      ExpectNear(r.map.deletion_curve, e["deletion_curve"]);
      ExpectNear(r.map.insertion_curve, e["insertion_curve"]);
      ExpectNear({r.map.deletion_auc, r.map.insertion_auc, r.map.top20_probability},
                 {e["deletion_auc"], e["insertion_auc"], e["top20_probability"]});
      EXPECT_FALSE(r.random.has_value());
      // The curves move: a wrong order or blur would not pass unnoticed.
      const auto [lo, hi] =
          std::minmax_element(r.map.deletion_curve.begin(), r.map.deletion_curve.end());
      EXPECT_GT(*hi - *lo, 0.01f * *hi);
    }
  }
  EXPECT_GE(cases, 2);
}

TEST(FaithfulnessReferenceTest, BatchesAndTheRandomBaselineChangeNoScore) {
  auto pool = LoadReferenceModel("resnet18_traced");
  ASSERT_NE(pool, nullptr);
  auto instance = pool->Acquire();
  ASSERT_TRUE(instance.ok());
  torch::manual_seed(3);
  const at::Tensor x = torch::randn({1, 3, 224, 224});
  const std::vector<ScoredMap> maps = {{1, torch::rand({224, 224})}, {7, torch::rand({224, 224})}};
  FaithfulnessSpec one;
  one.steps = 4;
  one.batch_size = 1;
  FaithfulnessSpec many = one;
  many.batch_size = 64;
  many.random_baseline = true;
  auto a = ScoreMaps(*instance, x, maps, one);
  auto b = ScoreMaps(*instance, x, maps, many);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t t = 0; t < maps.size(); ++t) {
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_NEAR((*a)[t].map.deletion_curve[k], (*b)[t].map.deletion_curve[k], 1e-6);
      EXPECT_NEAR((*a)[t].map.insertion_curve[k], (*b)[t].map.insertion_curve[k], 1e-6);
    }
    ASSERT_TRUE((*b)[t].random.has_value());
    // The curves' ends are the input and the blurred copy, whatever the map.
    EXPECT_EQ((*b)[t].random->deletion_curve.front(), (*b)[t].map.deletion_curve.front());
    EXPECT_EQ((*b)[t].random->insertion_curve.front(), (*b)[t].map.insertion_curve.front());
    EXPECT_NE((*b)[t].random->deletion_curve[2], (*b)[t].map.deletion_curve[2]);
  }
}

TEST(FaithfulnessReferenceTest, AnInterruptionStopsBetweenBatches) {
  auto pool = LoadReferenceModel("resnet18_traced");
  ASSERT_NE(pool, nullptr);
  auto instance = pool->Acquire();
  ASSERT_TRUE(instance.ok());
  FaithfulnessSpec spec;
  spec.batch_size = 2;
  int asked = 0;
  spec.interrupted = [&asked]() -> Status {
    return ++asked < 3 ? OkStatus() : DeadlineExceededError("the deadline passed");
  };
  auto scores =
      ScoreMaps(*instance, torch::randn({1, 3, 224, 224}), {{0, torch::rand({224, 224})}}, spec);
  ASSERT_FALSE(scores.ok());
  EXPECT_EQ(scores.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(scores.status().message(), HasSubstr("deadline"));
  EXPECT_EQ(asked, 3);  // two batches ran, of 2 + 31 rows
}

}  // namespace
}  // namespace xai::core
