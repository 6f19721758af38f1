// The forward split at a layer's output (graph_split.h) on a traced and a scripted resnet:
// the suffix reproduces the model's logits for any batch of the captured output, reads the
// block input where a residual crosses the cut, and is refused where the graph has no
// single place to cut. ABLATION_CAM's maps against full forwards: grad_cam_test.
#include "core/runtime/graph_split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include "core/runtime/layer_capture.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

torch::jit::Module LoadInstrumented(const std::string& path) {
  torch::jit::Module module = torch::jit::load(path);
  module.eval();
  EXPECT_TRUE(InstrumentForCapture(module).ok());
  for (at::Tensor p : module.parameters()) p.requires_grad_(false);
  return module;
}

void ExpectSuffixReproducesTheModel(torch::jit::Module& module, const std::string& layer,
                                    size_t crossing) {
  SCOPED_TRACE(layer);
  auto split = LayerSplit::Create(module, layer);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ((*split)->crossing_values(), crossing);
  EXPECT_GT((*split)->prefix_nodes(), 0u);
  EXPECT_GT((*split)->suffix_nodes(), 0u);
  torch::manual_seed(5);
  const at::Tensor x = torch::randn({1, 3, 224, 224});
  c10::InferenceMode guard;
  const at::Tensor logits = module.forward({x}).toTensor();
  const LayerSplit::Cut cut = (*split)->Forward(module, x);
  EXPECT_TRUE(at::allclose(cut.logits, logits, 1e-5, 1e-5));
  // A batch of three: the output itself, and two changed copies whose logits must differ.
  const at::Tensor outputs = at::cat({cut.output, cut.output * 0.5, cut.output + 0.1}).contiguous();
  const at::Tensor again = (*split)->Suffix(module, outputs, cut);
  ASSERT_EQ(again.sizes(), (at::IntArrayRef{3, logits.size(1)}));
  EXPECT_TRUE(at::allclose(again[0], logits[0], 1e-4, 1e-4));
  EXPECT_FALSE(at::allclose(again[1], logits[0], 1e-3, 1e-3));
  // The suffix may change its inputs in place (out += identity): a second run must not
  // see the first's changes.
  const at::Tensor twice = (*split)->Suffix(module, outputs.clone(), cut);
  EXPECT_TRUE(at::allclose(twice, again, 1e-6, 1e-6));
}

TEST(GraphSplitTest, TracedResnetSplitsAtStagesAndInsideBlocks) {
  torch::jit::Module module =
      LoadInstrumented(xai::testing::FixtureRepo() + "/resnet18/1/model.pt");
  ExpectSuffixReproducesTheModel(module, "layer4", 0);
  ExpectSuffixReproducesTheModel(module, "layer2.1", 0);
  // Inside the first block of layer4: its input crosses the cut to the downsample branch.
  ExpectSuffixReproducesTheModel(module, "layer4.0.conv2", 1);
}

TEST(GraphSplitTest, ScriptedResnetSplitsInsideABlockWithItsResidualCrossing) {
  torch::jit::Module module = LoadInstrumented(std::string(XAI_FIXTURE_DIR) +
                                               "/cam_reference/resnet34_scripted/1/model.pt");
  ExpectSuffixReproducesTheModel(module, "layer3.2", 0);
  ExpectSuffixReproducesTheModel(module, "layer4.0.conv2", 1);
}

TEST(GraphSplitTest, ALayerThatRunsTwiceOrNeverHasNoSplit) {
  torch::jit::Module module = LoadInstrumented(std::string(XAI_FIXTURE_DIR) +
                                               "/cam_reference/resnet34_scripted/1/model.pt");
  // BasicBlock applies its one ReLU module twice (a traced model records the second call
  // as a method of its own, which is not instrumented: it splits at the first).
  auto twice = LayerSplit::Create(module, "layer4.1.relu");
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.status().message(), HasSubstr("runs 2 times"));
  // The report DescribeModel shows, from one inlining.
  const auto where = WhereSplits(module);
  EXPECT_EQ(where.at("layer4"), "");
  EXPECT_EQ(where.at("layer4.0.conv2"), "");
  EXPECT_EQ(where.at("layer4.1.relu"), "the layer runs 2 times in a forward");
  auto missing = LayerSplit::Create(module, "layer9");
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("not found"));
}

}  // namespace
}  // namespace xai::core
