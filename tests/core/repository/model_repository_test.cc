#include "core/repository/model_repository.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/repository/servable_model.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

class ModelRepositoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto repo =
        ModelRepository::Create({xai::testing::FixtureRepo(), std::chrono::milliseconds(1000)});
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repository_ = std::move(*repo).release();
    repository_->LoadAll();
  }
  static void TearDownTestSuite() { delete repository_; }

  static std::map<std::string, ModelVersionStatus> States() {
    std::map<std::string, ModelVersionStatus> out;
    for (const ModelVersionStatus& s : repository_->List()) out[s.name] = s;
    return out;
  }

  static ModelRepository* repository_;
};

ModelRepository* ModelRepositoryTest::repository_ = nullptr;

TEST_F(ModelRepositoryTest, GoodModelsAreReady) {
  auto states = States();
  for (const char* name :
       {"resnet18", "resnet18_scripted", "tiny", "flaky", "tiny_batched", "flaky_batched"}) {
    ASSERT_TRUE(states.count(name)) << name;
    EXPECT_EQ(states[name].state, ModelState::kReady) << name << ": " << states[name].reason;
    EXPECT_EQ(states[name].version, 1);
    EXPECT_EQ(states[name].devices, std::vector<std::string>{"cpu"});
  }
}

TEST_F(ModelRepositoryTest, BrokenModelsFailWithTheirReason) {
  auto states = States();
  const std::map<std::string, std::string> expected = {
      {"not_torchscript", "cannot load"},
      {"wrong_output",
       "must return logits of shape [1, num_classes] for one image, got [1, 4, 14, 14]"},
      {"bad_labels", "has 2 labels but the model outputs 3 classes"},
      {"bad_config", "bad_config/config.pbtxt: input.std[1] must be finite and > 0, got 0"},
      {"no_version", "no version directory"},
      {"unbatchable",
       "dynamic_batching.max_batch_size is 4 but forward on a batch of 4 returned [1, 3]"},
  };
  for (const auto& [name, reason] : expected) {
    ASSERT_TRUE(states.count(name)) << name;
    EXPECT_EQ(states[name].state, ModelState::kFailed) << name;
    EXPECT_THAT(states[name].reason, HasSubstr(reason)) << name;
  }
}

TEST_F(ModelRepositoryTest, GetAnswersWithTheRightCodes) {
  auto ready = repository_->Get("tiny", 0);
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ((*ready)->version, 1);
  EXPECT_EQ((*ready)->labels, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_TRUE(repository_->Get("tiny", 1).ok());

  auto unknown = repository_->Get("nope", 0);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("resnet18"));  // lists what exists
  auto version = repository_->Get("tiny", 9);
  EXPECT_EQ(version.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(version.status().message(), HasSubstr("has no version 9; versions: 1"));
  auto failed = repository_->Get("bad_labels", 0);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("has 2 labels"));
  EXPECT_EQ(repository_->Get("bad_labels", 1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(repository_->Get("../tiny", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repository_->Get("", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repository_->Get("tiny", -1).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelRepositoryTest, DescribesResnetLayersInExecutionOrder) {
  for (const char* name : {"resnet18", "resnet18_scripted"}) {
    auto model = repository_->Get(name, 0);
    ASSERT_TRUE(model.ok());
    const auto& layers = (*model)->layers;
    std::vector<std::string> paths;
    for (const LayerInfo& l : layers) paths.push_back(l.path);
    ASSERT_GE(paths.size(), 10u) << name;
    EXPECT_EQ(paths[0], "conv1") << name;
    EXPECT_EQ(paths.back(), "fc") << name;
    auto pos = [&](const std::string& p) {
      return std::find(paths.begin(), paths.end(), p) - paths.begin();
    };
    EXPECT_LT(pos("layer1"), pos("layer1.0")) << name;
    EXPECT_LT(pos("layer1.0.conv2"), pos("layer2")) << name;
    EXPECT_LT(pos("layer4.1.bn2"), pos("avgpool")) << name;
    const LayerInfo* layer4 = (*model)->FindLayer("layer4");
    ASSERT_NE(layer4, nullptr);
    EXPECT_EQ(layer4->output_shape, (std::vector<int64_t>{1, 512, 7, 7}));
    EXPECT_EQ(layer4->type, "Sequential");
    EXPECT_EQ((*model)->FindLayer("layer2.0.downsample.0")->type, "Conv2d");
    EXPECT_EQ((*model)->FindLayer("layer1.0.conv1")->output_shape,
              (std::vector<int64_t>{1, 64, 56, 56}));
    EXPECT_EQ((*model)->FindLayer("fc")->output_shape, (std::vector<int64_t>{1, 1000}));
    EXPECT_EQ((*model)->default_cam_layer, "layer4");
    EXPECT_EQ((*model)->default_path_layers,
              (std::vector<std::string>{"layer1", "layer2", "layer3", "layer4"}));
  }
}

TEST_F(ModelRepositoryTest, DefaultsComeFromTheProbeWhenTheConfigIsSilent) {
  auto tiny = repository_->Get("tiny", 0);
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ((*tiny)->default_cam_layer, "features");  // completes after features.3
  EXPECT_EQ((*tiny)->default_path_layers, std::vector<std::string>{"features"});
  EXPECT_EQ((*tiny)->pool->size(), 2);
}

// Confinement: symlinks inside the repository are followed; one that leads outside, to a
// model directory or to any file a model reads, fails that model with the reason.
TEST(ModelRepositoryConfinementTest, LinksThatLeaveTheRepositoryAreRefused) {
  namespace fs = std::filesystem;
  const fs::path base = fs::path(::testing::TempDir()) / ("confined_" + std::to_string(getpid()));
  fs::remove_all(base);
  const fs::path root = base / "repo";
  const fs::path outside = base / "outside";
  const fs::path tiny = fs::path(xai::testing::FixtureRepo()) / "tiny";
  fs::create_directories(root);
  fs::create_directories(outside);
  fs::copy(tiny, outside / "tiny", fs::copy_options::recursive);
  fs::copy(tiny, root / "inside", fs::copy_options::recursive);
  fs::create_directory_symlink("inside", root / "linked_inside");
  fs::create_directory_symlink(outside / "tiny", root / "escape_dir");
  fs::copy(tiny, root / "escape_model", fs::copy_options::recursive);
  fs::remove(root / "escape_model" / "1" / "model.pt");
  fs::create_symlink(outside / "tiny" / "1" / "model.pt", root / "escape_model" / "1" / "model.pt");
  fs::copy(tiny, root / "escape_labels", fs::copy_options::recursive);
  fs::remove(root / "escape_labels" / "labels.txt");
  fs::create_symlink("../../outside/tiny/labels.txt", root / "escape_labels" / "labels.txt");

  auto repository = ModelRepository::Create({root.string(), std::chrono::milliseconds(1000)});
  ASSERT_TRUE(repository.ok()) << repository.status().ToString();
  (*repository)->LoadAll();
  std::map<std::string, ModelVersionStatus> states;
  for (const ModelVersionStatus& s : (*repository)->List()) states[s.name] = s;
  EXPECT_EQ(states["inside"].state, ModelState::kReady) << states["inside"].reason;
  EXPECT_EQ(states["linked_inside"].state, ModelState::kReady) << states["linked_inside"].reason;
  for (const char* name : {"escape_dir", "escape_model", "escape_labels"}) {
    EXPECT_EQ(states[name].state, ModelState::kFailed) << name;
    EXPECT_THAT(states[name].reason, HasSubstr("outside the model repository")) << name;
  }
  EXPECT_THAT(states["escape_model"].reason, HasSubstr("model.pt resolves to"));
  EXPECT_THAT(states["escape_labels"].reason, HasSubstr("labels.txt resolves to"));
  EXPECT_EQ((*repository)->Get("escape_dir", 0).status().code(), StatusCode::kUnavailable);
  repository->reset();
  fs::remove_all(base);
}

TEST(ModelRepositoryCreateTest, MissingDirectoryIsNotFound) {
  EXPECT_EQ(
      ModelRepository::Create({"/nonexistent/repo", std::chrono::milliseconds(1)}).status().code(),
      StatusCode::kNotFound);
}

}  // namespace
}  // namespace xai::core
