// The class path library: counting, weighted Jaccard, files, loading with a model, and on
// the demo model, images closer to their own class's usual path than to the others'.
#include "core/repository/path_profile.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PathProfileTest, CountsSetsPerClassAndComparesByWeightedJaccard) {
  PathProfileBuilder builder({"a", "b"}, 0.5f, 16);
  ASSERT_TRUE(builder.Add(3, {{1, 2}, {7}}).ok());
  ASSERT_TRUE(builder.Add(3, {{1}, {7, 8}}).ok());
  ASSERT_TRUE(builder.Add(0, {{5}, {9}}).ok());
  EXPECT_EQ(builder.Add(0, {{5}}).code(), StatusCode::kInvalidArgument);  // one layer short
  const xai::v1::PathProfile profile = builder.Build();
  ASSERT_EQ(profile.classes_size(), 2);
  EXPECT_EQ(profile.classes(0).class_index(), 0);  // sorted
  const auto& three = profile.classes(1);
  EXPECT_EQ(three.images(), 2);
  EXPECT_EQ(three.layers(0).channel_counts().at(1), 2);
  EXPECT_EQ(three.layers(0).channel_counts().at(2), 1);
  // Class 3, layer a: usual {1: 1.0, 2: 0.5}; image {1, 4}: min 1, max 1 + 0.5 + 1.
  // Layer b: usual {7: 1.0, 8: 0.5}; image {7, 8}: min 1 + 0.5, max 1 + 1.
  EXPECT_THAT(ProfileSimilarity(profile, 3, {{1, 4}, {7, 8}}),
              ElementsAre(::testing::FloatEq(1.0f / 2.5f), ::testing::FloatEq(1.5f / 2.0f)));
  EXPECT_THAT(ProfileSimilarity(profile, 3, {{1}, {7}}),  // the usual channels alone
              ElementsAre(::testing::FloatEq(1.0f / 1.5f), ::testing::FloatEq(1.0f / 1.5f)));
  EXPECT_THAT(ProfileSimilarity(profile, 0, {{1, 4}, {7, 8}}), ElementsAre(0.0f, 0.0f));
  EXPECT_TRUE(ProfileSimilarity(profile, 4, {{1}, {7}}).empty());  // no image of class 4

  const std::string file = ::testing::TempDir() + "/profile_test_paths.pb";
  ASSERT_TRUE(WritePathProfile(profile, file).ok());
  auto read = ReadPathProfile(file);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*read, profile));
  std::ofstream(file) << "not a profile";
  EXPECT_EQ(ReadPathProfile(file).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadPathProfile(file + ".missing").status().code(), StatusCode::kNotFound);
}

// The demo images and their labels, from make_shapes.py's boxes.csv.
std::vector<std::pair<std::string, std::string>> DemoImages() {
  std::ifstream csv(std::string(XAI_DEMO_DIR) + "/boxes.csv");
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    std::stringstream fields(line);
    std::string file, label;
    std::getline(fields, file, ',');
    std::getline(fields, label, ',');
    out.emplace_back(std::string(XAI_DEMO_DIR) + "/" + file, label);
  }
  return out;
}

std::vector<std::vector<int>> Sets(const DecisionPathResult& path) {
  std::vector<std::vector<int>> sets(path.layers.size());
  for (const PathNode& n : path.nodes) sets[n.layer].push_back(n.channel);
  return sets;
}

TEST(PathProfileTest, DemoImagesAreCloserToTheirOwnClassProfile) {
  const auto images = DemoImages();
  ASSERT_GE(images.size(), 260u) << "run make_demo_images first";
  auto explainer = xai::testing::StartExplainer(xai::testing::FixtureRepo());
  ASSERT_NE(explainer, nullptr);
  auto explain = [&](const std::string& file, std::string* bytes) {
    *bytes = xai::testing::ReadBytes(file);
    DecisionPathRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = *bytes;
    return xai::testing::DecisionPathAndWait(*explainer, request);
  };
  std::unique_ptr<PathProfileBuilder> builder;
  for (size_t i = 0; i < 200; ++i) {
    std::string bytes;
    auto path = explain(images[i].first, &bytes);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    if (!builder) builder = std::make_unique<PathProfileBuilder>(path->layers, 0.5f, 16);
    ASSERT_TRUE(builder->Add(path->target_class, Sets(*path)).ok());
  }
  const xai::v1::PathProfile profile = builder->Build();
  ASSERT_EQ(profile.classes_size(), 5);
  int own_best = 0, evaluated = 0;
  double own_sum = 0, other_sum = 0;
  for (size_t i = 200; i < 260; ++i) {
    std::string bytes;
    auto path = explain(images[i].first, &bytes);
    ASSERT_TRUE(path.ok());
    std::map<int, float> mean;
    for (const auto& c : profile.classes()) {
      const auto s = ProfileSimilarity(profile, c.class_index(), Sets(*path));
      float sum = 0;
      for (float v : s) sum += v;
      mean[c.class_index()] = sum / s.size();
    }
    int best = -1;
    for (const auto& [c, m] : mean) {
      if (best < 0 || m > mean[best]) best = c;
      if (c != path->target_class) other_sum += m / (mean.size() - 1);
    }
    own_sum += mean[path->target_class];
    own_best += best == path->target_class;
    ++evaluated;
  }
  RecordProperty("own_class_closest", own_best);
  EXPECT_GE(own_best, evaluated * 9 / 10) << own_best << " of " << evaluated;
  EXPECT_GT(own_sum / evaluated, other_sum / evaluated + 0.1);
  std::printf(
      "own class profile closest for %d of %d images; mean similarity own %.3f, others %.3f\n",
      own_best, evaluated, own_sum / evaluated, other_sum / evaluated);

  // Beside the model, the library is loaded with it and DecisionPath reports the similarity.
  const fs::path repo =
      fs::path(::testing::TempDir()) / ("profile_repo_" + std::to_string(getpid()));
  fs::remove_all(repo);
  const fs::path shapes = fs::path(xai::testing::FixtureRepo()) / "shapes";
  fs::create_directories(repo / "shapes" / "1");
  fs::copy_file(shapes / "config.pbtxt", repo / "shapes" / "config.pbtxt");
  fs::copy_file(shapes / "labels.txt", repo / "shapes" / "labels.txt");
  fs::copy_file(shapes / "1" / "model.pt", repo / "shapes" / "1" / "model.pt");
  ASSERT_TRUE(WritePathProfile(profile, (repo / "shapes" / "1" / kPathProfileFile).string()).ok());
  fs::create_directories(repo / "broken" / "1");
  {
    // The same config without its name line (a config's name must match its directory).
    std::istringstream config(xai::testing::ReadBytes((shapes / "config.pbtxt").string()));
    std::ofstream out(repo / "broken" / "config.pbtxt");
    for (std::string line; std::getline(config, line);) {
      if (line.rfind("name:", 0) != 0) out << line << "\n";
    }
  }
  fs::copy_file(shapes / "1" / "model.pt", repo / "broken" / "1" / "model.pt");
  std::ofstream(repo / "broken" / "1" / kPathProfileFile) << "garbage";
  auto served = xai::testing::StartExplainer(repo.string());
  ASSERT_NE(served, nullptr);
  std::string bytes = xai::testing::ReadBytes(images[250].first);
  DecisionPathRequest request;
  request.model = {"shapes", 0};
  request.image.kind = ImageRef::Kind::kEncoded;
  request.image.encoded = bytes;
  auto path = xai::testing::DecisionPathAndWait(*served, request);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  ASSERT_EQ(path->profile_similarity.size(), 4u);
  for (float s : path->profile_similarity) {
    EXPECT_GE(s, 0.0f);
    EXPECT_LE(s, 1.0f);
  }
  EXPECT_GT(path->profile_similarity_mean, 0.0f);
  request.layers = {"stage3", "stage4"};  // other layers than the library's: no similarity
  auto other = xai::testing::DecisionPathAndWait(*served, request);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->profile_similarity.empty());
  const auto models = served->ListModels();
  const auto broken =
      std::find_if(models.begin(), models.end(), [](const auto& m) { return m.name == "broken"; });
  ASSERT_NE(broken, models.end());
  EXPECT_EQ(broken->state, ModelState::kFailed);
  EXPECT_THAT(broken->reason, HasSubstr("broken/1/paths.pb"));
  served.reset();
  fs::remove_all(repo);
}

}  // namespace
}  // namespace xai::core
