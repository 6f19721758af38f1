#include "core/runtime/model_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <atomic>
#include <thread>

#include "core/runtime/traced_flags.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;
using Clock = ModelPool::Clock;

ModelPoolOptions TinyOptions(int count) {
  ModelPoolOptions options;
  options.model_path = xai::testing::FixtureRepo() + "/tiny/1/model.pt";
  options.display_name = "model 'tiny' v1";
  options.instance_groups = {{{"cpu"}, count}};
  options.input_shape = {3, 16, 16};
  options.acquire_timeout = std::chrono::milliseconds(200);
  return options;
}

TEST(ModelPoolTest, InstancesShareTheirWeights) {
  auto pool = ModelPool::Create(TinyOptions(3));
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  ASSERT_EQ((*pool)->size(), 3);
  EXPECT_EQ((*pool)->num_classes(), 3);
  std::vector<at::Tensor> first;
  for (const at::Tensor& p : (*pool)->instance(0).module.parameters()) first.push_back(p);
  ASSERT_FALSE(first.empty());
  for (int i = 1; i < 3; ++i) {
    size_t k = 0;
    for (const at::Tensor& p : (*pool)->instance(i).module.parameters()) {
      EXPECT_EQ(p.data_ptr(), first[k++].data_ptr()) << "instance " << i << " copied its weights";
      EXPECT_FALSE(p.requires_grad());
    }
    // ... while the module objects are distinct (per-instance graph rewrites need that).
    EXPECT_NE((*pool)->instance(i).module._ivalue().get(),
              (*pool)->instance(0).module._ivalue().get());
  }
}

TEST(ModelPoolTest, HandlesAreExclusiveAndWaitIsBounded) {
  auto created = ModelPool::Create(TinyOptions(2));
  ASSERT_TRUE(created.ok());
  ModelPool& pool = **created;
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(a->index(), b->index());
    EXPECT_EQ(pool.free_instances(), 0);

    const auto start = Clock::now();
    auto c = pool.Acquire();
    const auto waited = Clock::now() - start;
    EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(c.status().message(), HasSubstr("all 2 instances stayed busy for 200 ms"));
    EXPECT_GE(waited, std::chrono::milliseconds(190));
    EXPECT_LT(waited, std::chrono::seconds(5));

    auto d = pool.Acquire(Clock::now() + std::chrono::milliseconds(20));
    EXPECT_EQ(d.status().code(), StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(pool.free_instances(), 2);  // handles returned their instances
}

TEST(ModelPoolTest, ConcurrentUseNeverSharesAnInstance) {
  auto created = ModelPool::Create(TinyOptions(2));
  ASSERT_TRUE(created.ok());
  ModelPool& pool = **created;
  std::atomic<int> in_use[2] = {0, 0};
  std::atomic<int> violations{0};
  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto handle = pool.Acquire(Clock::now() + std::chrono::seconds(10));
        if (!handle.ok()) continue;
        if (in_use[handle->index()].fetch_add(1) != 0) ++violations;
        c10::InferenceMode guard;
        handle->module().forward({at::rand({1, 3, 16, 16})});
        in_use[handle->index()].fetch_sub(1);
        ++served;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(served.load(), 120);  // every waiter got an instance within its deadline
  EXPECT_EQ(pool.free_instances(), 2);
}

TEST(ModelPoolTest, LoadErrorsExplainThemselves) {
  ModelPoolOptions missing = TinyOptions(1);
  missing.model_path = "/nonexistent/model.pt";
  EXPECT_EQ(ModelPool::Create(missing).status().code(), StatusCode::kFailedPrecondition);

  ModelPoolOptions garbage = TinyOptions(1);
  garbage.model_path = xai::testing::FixtureRepo() + "/not_torchscript/1/model.pt";
  auto g = ModelPool::Create(garbage);
  EXPECT_EQ(g.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(), HasSubstr("model 'tiny' v1: cannot load"));

  ModelPoolOptions wrong = TinyOptions(1);
  wrong.model_path = xai::testing::FixtureRepo() + "/wrong_output/1/model.pt";
  auto w = ModelPool::Create(wrong);
  EXPECT_THAT(w.status().message(), HasSubstr("must return logits of shape [1, num_classes]"));

  ModelPoolOptions device = TinyOptions(1);
  device.instance_groups = {{{"cuda:7"}, 1}};
  EXPECT_EQ(ModelPool::Create(device).status().code(), StatusCode::kInvalidArgument);
}

// The frozen copy Classify and the perturbed forwards run on (torch.jit.freeze, batch norms
// folded; optimize_for_inference on LibTorch 1.x): made once on the CPU, shared by the
// instances, its logits the model's within 1e-4; when not asked, none, with the note
// DescribeModel reports as inference_graph.
TEST(ModelPoolTest, TheFrozenCopyIsSharedAndGivesTheModelsLogits) {
  ModelPoolOptions options;
  options.model_path = xai::testing::FixtureRepo() + "/resnet18/1/model.pt";
  options.display_name = "model 'resnet18' v1";
  options.instance_groups = {{{"cpu"}, 2}};
  options.input_shape = {3, 224, 224};
  auto pool = ModelPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  EXPECT_EQ((*pool)->frozen_note(), "frozen for inference");
  ASSERT_NE((*pool)->instance(0).frozen, nullptr);
  EXPECT_EQ((*pool)->instance(0).frozen, (*pool)->instance(1).frozen);
  at::manual_seed(11);
  const at::Tensor input = at::randn({2, 3, 224, 224});
  torch::jit::Module module = (*pool)->instance(0).module;  // a handle on the same module
  at::Tensor model, frozen;
  {
    c10::InferenceMode guard;
    model = module.forward({input}).toTensor();
    frozen = (*pool)->instance(0).frozen->forward({input}).toTensor();
  }
  ASSERT_EQ(frozen.sizes(), model.sizes());
  EXPECT_LE((frozen - model).abs().max().item<float>(), 1e-4 * model.abs().max().item<float>());

  options.freeze_for_inference = false;
  auto plain = ModelPool::Create(options);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)->instance(0).frozen, nullptr);
  EXPECT_EQ((*plain)->frozen_note(), "not frozen: not asked");
}

// Traced convolutions carry the tracing process's allow_tf32=True as a constant, which
// would override the global switch on CUDA; the rewrite clears it in every node.
TEST(ClearTracedTf32Test, ClearsEveryTracedConvolutionOnceAndChangesNoCpuResult) {
  torch::jit::Module traced =
      torch::jit::load(xai::testing::FixtureRepo() + "/resnet18/1/model.pt");
  traced.eval();
  at::manual_seed(5);
  const at::Tensor input = at::randn({1, 3, 224, 224});
  at::Tensor before;
  {
    c10::InferenceMode guard;
    before = traced.forward({input}).toTensor();
  }
  // resnet18: the stem, 16 in the blocks, 3 downsampling shortcuts.
  auto cleared = ClearTracedTf32(traced);
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_EQ(*cleared, 20);
  EXPECT_EQ(*ClearTracedTf32(traced), 0);  // already cleared
  {
    c10::InferenceMode guard;
    EXPECT_TRUE(at::equal(traced.forward({input}).toTensor(), before));
  }
  // A scripted model calls aten::conv2d, which reads the global switches.
  torch::jit::Module scripted =
      torch::jit::load(xai::testing::FixtureRepo() + "/resnet18_scripted/1/model.pt");
  EXPECT_EQ(*ClearTracedTf32(scripted), 0);
}

}  // namespace
}  // namespace xai::core
