// Grad-CAM on the CPU with the network before the layer frozen (grad_cam.cc's
// FrozenPrefixForward, ModelPool::Handle::frozen_prefix, LayerSplit::FreezePrefix): the
// maps and logits of every map method equal those of the model's own graph within 1e-5,
// where a residual crosses the cut too; the prefix is made once per layer and shared by
// the pool's instances, at most max_frozen_prefixes of them; a layer where the graph does
// not split, a layer past that bound and a pool without a frozen copy run the model's own
// graph.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/methods/cam/grad_cam.h"
#include "core/runtime/graph_split.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

std::unique_ptr<ModelPool> Load(const std::string& path, bool freeze, int instances = 1,
                                int max_frozen_prefixes = 4) {
  ModelPoolOptions options;
  options.model_path = path;
  options.display_name = "test";
  options.instance_groups = {{{"cpu"}, instances}};
  options.input_shape = {3, 224, 224};
  options.freeze_for_inference = freeze;
  options.max_frozen_prefixes = max_frozen_prefixes;
  auto pool = ModelPool::Create(options);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? std::move(*pool) : nullptr;
}

// Grad-CAM (or `method`) at `layer`, its map at the fixtures' 224 x 224.
GradCamSpec SpecAt(const std::string& layer, CamMethod method = CamMethod::kGradCam) {
  GradCamSpec spec;
  spec.layers = {layer};
  spec.method = method;
  spec.height = 224;
  spec.width = 224;
  return spec;
}

float MaxDifference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<float>();
}

TEST(FrozenPrefixTest, EveryMapMethodGivesTheMapsOfTheModelsOwnGraph) {
  const std::string path = xai::testing::FixtureRepo() + "/resnet18/1/model.pt";
  auto frozen = Load(path, /*freeze=*/true);
  auto plain = Load(path, /*freeze=*/false);
  ASSERT_NE(frozen, nullptr);
  ASSERT_NE(plain, nullptr);
  at::manual_seed(3);
  const at::Tensor input = at::randn({2, 3, 224, 224});
  const std::vector<std::vector<int>> targets = {{1, 7}, {}};
  const CamMethod methods[] = {CamMethod::kGradCam,     CamMethod::kGradCamPlusPlus,
                               CamMethod::kXGradCam,    CamMethod::kHiResCam,
                               CamMethod::kLayerCam,    CamMethod::kEigenCam,
                               CamMethod::kEigenGradCam};
  // The last stage; a stage in the middle; inside layer4's first block, where the block's
  // input crosses the cut to the downsampling shortcut.
  for (const std::string layer : {"layer4", "layer3", "layer4.0.conv2"}) {
    for (const CamMethod method : methods) {
      // XGRAD_CAM divides each channel's weighted sum by its activations' sum, which a
      // convolution's output before its batch norm puts near zero: there the float rounding
      // of the folded batch norm shows (tools/cam_reference.py leaves such cases out too).
      if (method == CamMethod::kXGradCam && layer == "layer4.0.conv2") continue;
      SCOPED_TRACE(layer + " " + std::string(CamMethodName(method)));
      const GradCamSpec spec = SpecAt(layer, method);
      auto fast = frozen->Acquire();
      auto own = plain->Acquire();
      ASSERT_TRUE(fast.ok() && own.ok());
      auto got = RunGradCamBatch(*fast, input, spec, targets);
      auto expected = RunGradCamBatch(*own, input, spec, targets);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_TRUE(expected.ok()) << expected.status().ToString();
      ASSERT_EQ(got->size(), 2u);
      for (size_t b = 0; b < 2; ++b) {
        EXPECT_LE(MaxDifference((*got)[b].logits, (*expected)[b].logits), 1e-4f);
        ASSERT_EQ((*got)[b].explanations.size(), (*expected)[b].explanations.size());
        for (size_t t = 0; t < (*got)[b].explanations.size(); ++t) {
          const CamOutput& g = (*got)[b].explanations[t];
          const CamOutput& e = (*expected)[b].explanations[t];
          EXPECT_EQ(g.target, e.target);
          EXPECT_LE(MaxDifference(g.cam, e.cam), 1e-5f) << "sample " << b << " target " << t;
          const float scale = std::max(1.0f, e.raw.abs().max().item<float>());
          EXPECT_LE(MaxDifference(g.raw, e.raw), 1e-5f * scale) << "sample " << b;
        }
      }
    }
    EXPECT_EQ(frozen->prefix_note(layer), "frozen for inference");
    EXPECT_EQ(plain->prefix_note(layer), "");  // never asked: no frozen copy
  }
}

TEST(FrozenPrefixTest, MadeOncePerLayerAndSharedByTheInstances) {
  auto pool = Load(xai::testing::FixtureRepo() + "/resnet18/1/model.pt", true, 2);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->prefix_note("layer4"), "");
  auto first = pool->Acquire();
  auto second = pool->Acquire();
  ASSERT_TRUE(first.ok() && second.ok());
  torch::jit::Module* prefix = first->frozen_prefix("layer4");
  ASSERT_NE(prefix, nullptr);
  EXPECT_EQ(second->frozen_prefix("layer4"), prefix);
  EXPECT_NE(first->frozen_prefix("layer3"), prefix);
  EXPECT_EQ(pool->prefix_note("layer4"), "frozen for inference");
  // Its forward returns the layer's output, no residual crossing at a stage's end.
  at::manual_seed(4);
  const at::Tensor input = at::randn({1, 3, 224, 224});
  const LayerSplit::Cut cut = LayerSplit::RunPrefix(*prefix, input);
  EXPECT_EQ(cut.output.sizes(), (at::IntArrayRef{1, 512, 7, 7}));
  EXPECT_TRUE(cut.values.empty());
}

// Each prefix holds the weights before its layer once more: the pool keeps
// max_frozen_prefixes of them and runs the model's own graph for later layers, with the
// same maps.
TEST(FrozenPrefixTest, ThePoolKeepsAtMostMaxFrozenPrefixes) {
  const std::string path = xai::testing::FixtureRepo() + "/resnet18/1/model.pt";
  auto pool = Load(path, /*freeze=*/true, /*instances=*/1, /*max_frozen_prefixes=*/2);
  ASSERT_NE(pool, nullptr);
  auto instance = pool->Acquire();
  ASSERT_TRUE(instance.ok());
  EXPECT_NE(instance->frozen_prefix("layer4"), nullptr);
  EXPECT_NE(instance->frozen_prefix("layer3"), nullptr);
  EXPECT_EQ(instance->frozen_prefix("layer2"), nullptr);
  EXPECT_NE(instance->frozen_prefix("layer4"), nullptr);  // kept
  EXPECT_EQ(pool->prefix_note("layer2"),
            "not frozen: the prefixes of 2 other layers are kept already");
  const GradCamSpec spec = SpecAt("layer2");
  at::manual_seed(6);
  const at::Tensor input = at::randn({1, 3, 224, 224});
  auto capped = RunGradCam(*instance, input, spec);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  auto plain = Load(path, /*freeze=*/false);
  ASSERT_NE(plain, nullptr);
  auto own = plain->Acquire();
  ASSERT_TRUE(own.ok());
  auto expected = RunGradCam(*own, input, spec);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  EXPECT_LE(MaxDifference(capped->explanations[0].cam, expected->explanations[0].cam), 1e-6f);
}

TEST(FrozenPrefixTest, WhereTheGraphDoesNotSplitTheModelsOwnGraphRuns) {
  // The scripted BasicBlock applies its one ReLU module twice: no single cut.
  auto pool =
      Load(std::string(XAI_FIXTURE_DIR) + "/cam_reference/resnet34_scripted/1/model.pt", true);
  ASSERT_NE(pool, nullptr);
  auto instance = pool->Acquire();
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(instance->frozen_prefix("layer4.1.relu"), nullptr);
  EXPECT_EQ(pool->prefix_note("layer4.1.relu"),
            "not frozen: the graph does not split at the layer");
  at::manual_seed(5);
  auto result = RunGradCam(*instance, at::randn({1, 3, 224, 224}), SpecAt("layer4.1.relu"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->explanations.size(), 1u);
  EXPECT_GT(result->explanations[0].cam.max().item<float>(), 0.f);
}

}  // namespace
}  // namespace xai::core
