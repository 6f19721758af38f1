// The explanation cache (--cache-bytes) over the wire: x-cache metadata, answers equal to
// the computed ones, REST's X-Cache, what must miss (another request, another image encoding, a
// reload, a newer version), bypasses (no_cache, a model's config), one computation for 16 identical
// calls at once, the byte bound, and the xai_cache_* metrics.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "server/server.h"
#include "tests/core/test_paths.h"
#include "tests/server/server_fixture.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCacheBytes = 1024 * 1024;

// The demo model twice: "shapes", and "uncached" whose config opts out of the cache.
std::string MakeRepository() {
  const fs::path repo =
      fs::path(::testing::TempDir()) / ("xai_cache_repo_" + std::to_string(getpid()));
  fs::remove_all(repo);
  const fs::path demo = fs::path(XAI_SOURCE_DIR) / "models" / "shapes";
  for (const std::string name : {"shapes", "uncached"}) {
    fs::create_directories(repo / name / "1");
    fs::copy_file(demo / "1" / "model.pt", repo / name / "1" / "model.pt");
    fs::copy_file(demo / "labels.txt", repo / name / "labels.txt");
    std::string config = xai::testing::ReadBytes((demo / "config.pbtxt").string());
    config = std::regex_replace(config, std::regex("name: \"shapes\""), "name: \"" + name + "\"");
    if (name == "uncached") config += "\nno_cache: true\n";
    std::ofstream(repo / name / "config.pbtxt") << config;
  }
  return repo.string();
}

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uchar> buffer;
  cv::imencode(extension, image, buffer);
  return std::string(buffer.begin(), buffer.end());
}

// A 64 x 64 picture, a block on a ground, that differs with `seed`.
cv::Mat Picture(int seed) {
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(20, 40, 60));
  image(cv::Rect(8 + seed % 32, 8 + (seed * 7) % 32, 12 + seed % 8, 10 + seed % 12))
      .setTo(cv::Scalar(200, 180 - seed % 100, 90));
  return image;
}

class CacheTest : public ServerFixture {
 protected:
  static void SetUpTestSuite() {
    repository_ = new std::string(MakeRepository());
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    options.web_page = false;
    options.cache_bytes = kCacheBytes;
    options.explainer.model_repository = *repository_;
    StartServer(options);
  }
  static void TearDownTestSuite() {
    ServerFixture::TearDownTestSuite();
    fs::remove_all(*repository_);
    delete repository_;
  }

  struct Answer {
    grpc::Status status;
    std::string cache;  // x-cache
    std::string bytes;  // the response, serialized
    int64_t version = 0;
  };

  // The answer's x-cache metadata; "" when it has none.
  static std::string CacheOf(const grpc::ClientContext& context) {
    const auto& metadata = context.GetServerInitialMetadata();
    const auto it = metadata.find("x-cache");
    return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  }

  static Answer GradCam(const xai::v1::GradCAMRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    xai::v1::GradCAMResponse response;
    Answer a;
    a.status = xai::v1::Explainer::NewStub(*channel_)->GradCAM(&context, request, &response);
    a.cache = CacheOf(context);
    a.bytes = response.SerializeAsString();
    a.version = response.model().version();
    return a;
  }

  static xai::v1::GradCAMRequest Request(const std::string& encoded,
                                         const std::string& model = "shapes") {
    xai::v1::GradCAMRequest request;
    request.mutable_model()->set_name(model);
    request.mutable_image()->set_encoded(encoded);
    request.mutable_overlay()->set_enabled(true);
    return request;
  }

  // GradCAM requests the version ran, as its statistics count them.
  static uint64_t Computed(const std::string& model = "shapes") {
    auto entries = server_->explainer().Statistics({model, 0});
    uint64_t n = 0;
    if (!entries.ok()) return 0;
    for (const auto& entry : *entries) {
      if (auto it = entry.methods.find("GradCAM"); it != entry.methods.end()) {
        n += it->second.success_count;
      }
    }
    return n;
  }

  // A value of the /metrics page.
  static double Metric(const std::string& name) {
    httplib::Client http("127.0.0.1", server_->metrics_port());
    auto page = http.Get("/metrics");
    if (!page || page->status != 200) return -1;
    std::smatch match;
    if (!std::regex_search(page->body, match, std::regex("\n" + name + " ([0-9.e+]+)\n"))) {
      return -1;
    }
    return std::stod(match[1]);
  }

  static inline std::string* repository_ = nullptr;
};

TEST_F(CacheTest, TheSameRequestIsAnsweredFromMemoryWithTheSameBytes) {
  const auto request = Request(Encode(Picture(1), ".png"));
  const uint64_t computed = Computed();
  const Answer first = GradCam(request);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.cache, "miss");
  for (int i = 0; i < 3; ++i) {
    const Answer again = GradCam(request);
    ASSERT_TRUE(again.status.ok());
    EXPECT_EQ(again.cache, "hit");
    EXPECT_EQ(again.bytes, first.bytes);
  }
  EXPECT_EQ(Computed(), computed + 1);
}

TEST_F(CacheTest, RestAnswersSayXCacheAsGrpcMetadataDoes) {
  httplib::Client http("127.0.0.1", server_->http_port());
  xai::v1::ClassifyRequest request;
  request.mutable_image()->set_encoded(Encode(Picture(5), ".png"));
  request.set_top_k(2);
  std::vector<std::string> seen;
  for (const bool no_cache : {false, false, true}) {
    request.set_no_cache(no_cache);
    std::string body;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(request, &body).ok());
    auto answer = http.Post("/v1/models/shapes:classify", body, "application/json");
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    seen.push_back(answer->get_header_value("X-Cache"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"miss", "hit", "bypass"}));
}

TEST_F(CacheTest, WhatChangesTheAnswerMisses) {
  const cv::Mat picture = Picture(2);
  const auto png = Request(Encode(picture, ".png"));
  ASSERT_EQ(GradCam(png).cache, "miss");
  ASSERT_EQ(GradCam(png).cache, "hit");
  // Another target, another method, the same pixels in another file format.
  auto target = png;
  target.add_target_classes(1);
  EXPECT_EQ(GradCam(target).cache, "miss");
  auto method = png;
  method.set_method(xai::v1::HIRES_CAM);
  EXPECT_EQ(GradCam(method).cache, "miss");
  const auto bmp = Request(Encode(picture, ".bmp"));
  EXPECT_EQ(GradCam(bmp).cache, "miss");
  // Asked not to, or for a model whose config says no_cache: computed, never kept.
  auto fresh = png;
  fresh.set_no_cache(true);
  const uint64_t computed = Computed();
  EXPECT_EQ(GradCam(fresh).cache, "bypass");
  EXPECT_EQ(Computed(), computed + 1);
  const auto uncached = Request(Encode(picture, ".png"), "uncached");
  EXPECT_EQ(GradCam(uncached).cache, "bypass");
  EXPECT_EQ(GradCam(uncached).cache, "bypass");
  EXPECT_EQ(Computed("uncached"), 2u);
}

TEST_F(CacheTest, AdaptiveIntegratedGradientsDependsOnTheDeadlineAndIsNeverCached) {
  // Its steps stop rising when the next level would pass the call's deadline: an answer
  // cut short for one caller must not be another's.
  xai::v1::AttributeRequest request;
  request.mutable_model()->set_name("shapes");
  request.mutable_image()->set_encoded(Encode(Picture(6), ".png"));
  request.set_max_approximation_error(0.05f);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    xai::v1::AttributeResponse response;
    ASSERT_TRUE(
        xai::v1::Explainer::NewStub(*channel_)->Attribute(&context, request, &response).ok());
    EXPECT_EQ(CacheOf(context), "bypass");
  }
  // Fixed steps are cached.
  request.set_max_approximation_error(0);
  request.set_steps(16);
  std::vector<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    xai::v1::AttributeResponse response;
    ASSERT_TRUE(
        xai::v1::Explainer::NewStub(*channel_)->Attribute(&context, request, &response).ok());
    seen.push_back(CacheOf(context));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"miss", "hit"}));
}

TEST_F(CacheTest, AReloadOrANewerVersionIsNeverAnsweredFromTheOldLoad) {
  const auto request = Request(Encode(Picture(3), ".png"));
  ASSERT_EQ(GradCam(request).cache, "miss");
  ASSERT_EQ(GradCam(request).cache, "hit");
  ASSERT_TRUE(server_->explainer().ReloadModel("shapes").ok());
  EXPECT_EQ(GradCam(request).cache, "miss");
  EXPECT_EQ(GradCam(request).cache, "hit");
  // Version 2 appears: version 0 (the newest) is now it, and misses. (The first sync
  // notes the files as they are; the second acts on what changed.)
  ASSERT_TRUE(server_->explainer().SyncWithDisk().ok());
  fs::copy(fs::path(*repository_) / "shapes" / "1", fs::path(*repository_) / "shapes" / "2");
  ASSERT_TRUE(server_->explainer().SyncWithDisk().ok());
  const auto ready = [](int64_t version) {
    for (const auto& v : server_->explainer().ListModels()) {
      if (v.name == "shapes" && v.version == version) return v.state == core::ModelState::kReady;
    }
    return false;
  };
  for (int i = 0; i < 600 && !ready(2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ready(2));
  const Answer newer = GradCam(request);
  ASSERT_TRUE(newer.status.ok());
  EXPECT_EQ(newer.version, 2);
  EXPECT_EQ(newer.cache, "miss");
  fs::remove_all(fs::path(*repository_) / "shapes" / "2");
  ASSERT_TRUE(server_->explainer().SyncWithDisk().ok());
}

TEST_F(CacheTest, SixteenIdenticalCallsAtOnceComputeOnce) {
  // Faithfulness metrics make the computation long enough for the calls to meet.
  auto request = Request(Encode(Picture(4), ".png"));
  request.mutable_metrics()->set_enabled(true);
  const uint64_t computed = Computed();
  std::vector<Answer> answers(16);
  std::vector<std::thread> callers;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&answers, &request, i] { answers[i] = GradCam(request); });
  }
  for (std::thread& t : callers) t.join();
  int misses = 0;
  for (const Answer& a : answers) {
    ASSERT_TRUE(a.status.ok()) << a.status.error_message();
    EXPECT_EQ(a.bytes, answers.front().bytes);
    misses += a.cache == "miss";
  }
  EXPECT_EQ(misses, 1);
  EXPECT_EQ(Computed(), computed + 1);
}

TEST_F(CacheTest, DistinctImagesStayWithinTheBoundAndTheMetricsSayIt) {
  const double misses = std::max(0.0, Metric("xai_cache_misses_total"));
  for (int seed = 10; seed < 70; ++seed) {
    ASSERT_TRUE(GradCam(Request(Encode(Picture(seed), ".png"))).status.ok());
    const double bytes = Metric("xai_cache_bytes");
    ASSERT_GE(bytes, 0);
    EXPECT_LE(bytes, static_cast<double>(kCacheBytes));
  }
  // The last one is still there.
  EXPECT_EQ(GradCam(Request(Encode(Picture(69), ".png"))).cache, "hit");
  EXPECT_GT(Metric("xai_cache_evictions_total"), 0);
  EXPECT_GT(Metric("xai_cache_hits_total"), 0);
  EXPECT_GE(Metric("xai_cache_misses_total") - misses, 60);
  EXPECT_EQ(Metric("xai_cache_capacity_bytes"), static_cast<double>(kCacheBytes));
  EXPECT_GT(Metric("xai_cache_entries"), 0);
}

}  // namespace
}  // namespace xai::server
