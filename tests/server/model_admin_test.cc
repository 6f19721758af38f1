// xai.v1.ModelAdmin on a real server: reloads under load fail no call, the admin role is
// required, the service is off by default, and --poll-repository applies changes on disk.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "server/server.h"
#include "tests/core/test_paths.h"
#include "xai/v1/explainer.grpc.pb.h"
#include "xai/v1/model_admin.grpc.pb.h"

namespace xai::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kAdminToken = "admin-token-0123456789abcdef";
constexpr const char* kExplainToken = "explain-token-0123456789abcdef";

class ModelAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int made = 0;
    root_ = fs::path(::testing::TempDir()) /
            ("xai_admin_" + std::to_string(getpid()) + "_" + std::to_string(made++));
    fs::remove_all(root_);
    fs::create_directories(root_ / "repo");
    fs::copy(fs::path(XAI_SOURCE_DIR) / "models" / "shapes", root_ / "repo" / "shapes",
             fs::copy_options::recursive);
    std::ofstream(root_ / "tokens") << kAdminToken << " admin ops\n"
                                    << kExplainToken << " explain backend\n";
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  void Start(bool admin, bool tokens, int poll_seconds = 0) {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "";
    options.http_address = "";
    options.explainer.model_repository = (root_ / "repo").string();
    options.enable_admin = admin;
    options.poll_repository_seconds = poll_seconds;
    if (tokens) options.auth_tokens_file = (root_ / "tokens").string();
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    server_->explainer().WaitUntilLoaded();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  static void Prepare(grpc::ClientContext* context, const std::string& token, int seconds = 60) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }

  grpc::Status Reload(const std::string& name, const std::string& token = "") {
    grpc::ClientContext context;
    Prepare(&context, token);
    xai::v1::ReloadModelRequest request;
    request.set_name(name);
    xai::v1::ReloadModelResponse response;
    return xai::v1::ModelAdmin::NewStub(channel_)->ReloadModel(&context, request, &response);
  }

  // The state of every version, by "name vN".
  std::map<std::string, std::string> States(const std::string& token = "") {
    grpc::ClientContext context;
    Prepare(&context, token, 5);
    xai::v1::AdminListModelsResponse response;
    std::map<std::string, std::string> states;
    if (!xai::v1::ModelAdmin::NewStub(channel_)->ListModels(&context, {}, &response).ok()) {
      return states;
    }
    for (const auto& m : response.models()) {
      states[m.status().name() + " v" + std::to_string(m.status().version())] = m.status().state();
    }
    return states;
  }

  bool WaitForState(const std::string& key, const std::string& state, int seconds) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < give_up) {
      if (States()[key] == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  fs::path root_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ModelAdminTest, TwentyReloadsUnderLoadFromEightCallersFailNoCall) {
  Start(/*admin=*/true, /*tokens=*/false);
  const std::string image =
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::vector<std::string> failures[8];
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&, c] {
      auto stub = xai::v1::Explainer::NewStub(channel_);
      for (int i = 0; !done.load() || i < 3; ++i) {
        grpc::ClientContext context;
        Prepare(&context, "");
        grpc::Status status;
        int64_t version = 0;
        if ((c + i) % 2 == 0) {
          xai::v1::ClassifyRequest request;
          request.mutable_model()->set_name("shapes");
          request.mutable_image()->set_encoded(image);
          xai::v1::ClassifyResponse response;
          status = stub->Classify(&context, request, &response);
          version = response.model().version();
        } else {
          xai::v1::GradCAMRequest request;
          request.mutable_model()->set_name("shapes");
          request.mutable_image()->set_encoded(image);
          xai::v1::GradCAMResponse response;
          status = stub->GradCAM(&context, request, &response);
          version = response.model().version();
        }
        if (!status.ok()) {
          failures[c].push_back(std::to_string(status.error_code()) + " " + status.error_message());
        } else if (version != 1) {
          failures[c].push_back("answered by version " + std::to_string(version));
        }
        answered.fetch_add(1);
      }
    });
  }
  // Meanwhile the model is never seen anything but READY.
  std::vector<std::string> states_seen;
  std::thread watcher([&] {
    while (!done.load()) {
      const std::string state = States()["shapes v1"];
      if (state != "READY") states_seen.push_back(state);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  int reloads = 0;
  for (int r = 0; r < 20; ++r) {
    const int before = answered.load();
    const grpc::Status status = Reload("shapes");
    EXPECT_TRUE(status.ok()) << status.error_message();
    reloads += status.ok();
    // Calls ran between reloads too.
    while (answered.load() < before + 8) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done.store(true);
  for (auto& t : callers) t.join();
  watcher.join();
  EXPECT_EQ(reloads, 20);
  EXPECT_GT(answered.load(), 160);
  for (int c = 0; c < 8; ++c) EXPECT_THAT(failures[c], ::testing::IsEmpty()) << "caller " << c;
  EXPECT_THAT(states_seen, ::testing::IsEmpty());
}

TEST_F(ModelAdminTest, AdminCallsNeedAnAdminToken) {
  Start(/*admin=*/true, /*tokens=*/true);
  EXPECT_EQ(Reload("shapes").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status explain = Reload("shapes", kExplainToken);
  EXPECT_EQ(explain.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(explain.error_message(),
              HasSubstr("'backend' has the role explain; ModelAdmin needs admin"));
  EXPECT_TRUE(Reload("shapes", kAdminToken).ok());
  EXPECT_EQ(States(kAdminToken)["shapes v1"], "READY");
  EXPECT_TRUE(States(kExplainToken).empty());
}

TEST_F(ModelAdminTest, UnloadAndLoadAndTheirErrors) {
  Start(/*admin=*/true, /*tokens=*/false);
  auto admin = xai::v1::ModelAdmin::NewStub(channel_);
  {
    grpc::ClientContext context;
    Prepare(&context, "");
    xai::v1::UnloadModelRequest request;
    request.set_name("shapes");
    xai::v1::UnloadModelResponse response;
    ASSERT_TRUE(admin->UnloadModel(&context, request, &response).ok());
    ASSERT_EQ(response.versions_size(), 1);
    EXPECT_EQ(response.versions(0).state(), "UNLOADED");
  }
  {
    grpc::ClientContext context;
    Prepare(&context, "");
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name("shapes");
    xai::v1::ClassifyResponse response;
    EXPECT_EQ(
        xai::v1::Explainer::NewStub(channel_)->Classify(&context, request, &response).error_code(),
        grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    Prepare(&context, "");
    xai::v1::LoadModelRequest request;
    request.set_name("shapes");
    xai::v1::LoadModelResponse response;
    ASSERT_TRUE(admin->LoadModel(&context, request, &response).ok());
    EXPECT_EQ(response.versions(0).state(), "READY");
  }
  EXPECT_EQ(Reload("nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reload("../shapes").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reload(std::string(100000, 'x')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Broken files: FAILED_PRECONDITION with the reason; the loaded version keeps serving.
  std::ofstream(root_ / "repo" / "shapes" / "1" / "model.pt", std::ios::trunc) << "truncated";
  const grpc::Status broken = Reload("shapes");
  EXPECT_EQ(broken.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(broken.error_message(), HasSubstr("the loaded version keeps serving"));
  EXPECT_EQ(States()["shapes v1"], "READY");
}

TEST_F(ModelAdminTest, TheAdminServiceIsOffByDefault) {
  Start(/*admin=*/false, /*tokens=*/false);
  EXPECT_EQ(Reload("shapes").error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ModelAdminTest, PollingAppliesNewChangedAndRemovedModelsOnDisk) {
  Start(/*admin=*/true, /*tokens=*/false, /*poll_seconds=*/1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the first poll takes note
  // A model made beside the repository, then moved in at once, as an operator would.
  fs::copy(root_ / "repo" / "shapes", root_ / "shapes2", fs::copy_options::recursive);
  std::string config = xai::testing::ReadBytes((root_ / "shapes2" / "config.pbtxt").string());
  config.replace(config.find("\"shapes\""), 8, "\"shapes2\"");
  std::ofstream(root_ / "shapes2" / "config.pbtxt", std::ios::trunc) << config;
  fs::rename(root_ / "shapes2", root_ / "repo" / "shapes2");
  ASSERT_TRUE(WaitForState("shapes2 v1", "READY", 15));
  // A changed file reloads the model: a second version appears.
  fs::copy(root_ / "repo" / "shapes2" / "1", root_ / "repo" / "shapes2" / "2",
           fs::copy_options::recursive);
  ASSERT_TRUE(WaitForState("shapes2 v2", "READY", 15));
  EXPECT_EQ(States()["shapes2 v1"], "READY");
  fs::remove_all(root_ / "repo" / "shapes2");
  ASSERT_TRUE(WaitForState("shapes2 v2", "UNLOADED", 15));
  EXPECT_EQ(States()["shapes v1"], "READY");
}

TEST_F(ModelAdminTest, AConfigDeletedOrBrokenUnderThePollingServerLeavesTheModelServing) {
  Start(/*admin=*/true, /*tokens=*/false, /*poll_seconds=*/1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the first poll takes note
  const fs::path config = root_ / "repo" / "shapes" / "config.pbtxt";
  const std::string good = xai::testing::ReadBytes(config.string());
  const std::string image =
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
  auto classify = [&] {
    grpc::ClientContext context;
    Prepare(&context, "");
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name("shapes");
    request.mutable_image()->set_encoded(image);
    xai::v1::ClassifyResponse response;
    return xai::v1::Explainer::NewStub(channel_)->Classify(&context, request, &response);
  };
  // The reason ListModels gives for shapes v1, once `done` says so (or after 10 s).
  auto reason_when = [&](const std::function<bool(const std::string&)>& done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string reason;
    while (std::chrono::steady_clock::now() < give_up) {
      grpc::ClientContext context;
      Prepare(&context, "", 5);
      xai::v1::AdminListModelsResponse response;
      xai::v1::ModelAdmin::NewStub(channel_)->ListModels(&context, {}, &response);
      for (const auto& m : response.models()) {
        if (m.status().name() == "shapes") reason = m.status().reason();
      }
      if (done(reason)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return reason;
  };
  fs::remove(config);
  auto containing = [](const std::string& part) {
    return [part](const std::string& reason) { return reason.find(part) != std::string::npos; };
  };
  EXPECT_THAT(reason_when(containing("reloading failed")), HasSubstr("config.pbtxt"));
  EXPECT_EQ(States()["shapes v1"], "READY");
  EXPECT_TRUE(classify().ok());
  std::ofstream(config) << "input { height: -3 }\n";
  EXPECT_THAT(reason_when(containing("height")),
              HasSubstr("serving the previous load; reloading failed"));
  EXPECT_TRUE(classify().ok());
  std::ofstream(config, std::ios::trunc) << good;
  // Reloaded: no reason any more.
  EXPECT_EQ(reason_when([](const std::string& reason) { return reason.empty(); }), "");
  EXPECT_TRUE(classify().ok());
}

}  // namespace
}  // namespace xai::server
