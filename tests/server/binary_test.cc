// xai-server and xai as a user runs them: flags, port 0 read back from the log, health and
// reflection through standard protocols, the CLI's output and exit codes, and SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/core/test_paths.h"

namespace {

using ::testing::HasSubstr;

// Runs `command` through the shell; returns its exit status and fills `output`.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = ::testing::TempDir() + "/xai_server_" + std::to_string(getpid()) + ".log";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      freopen(log_.c_str(), "w", stdout);
      dup2(fileno(stdout), STDERR_FILENO);
      execl(XAI_SERVER_BINARY, XAI_SERVER_BINARY, "--model-repository",
            xai::testing::FixtureRepo().c_str(), "--address", "127.0.0.1:0", "--log-level",
            "debug", static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex listening(R"(listening on .* \(port (\d+)\))");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (port_ == 0 && std::chrono::steady_clock::now() < give_up) {
      std::smatch match;
      const std::string log = xai::testing::ReadBytes(log_);
      if (std::regex_search(log, match, listening)) port_ = std::stoi(match[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(port_, 0) << xai::testing::ReadBytes(log_);
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    if (pid_ > 0 && !stopped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // SERVING status of a health service name, waiting up to `seconds` for it to be `want`.
  int WaitForHealth(const std::string& service, int want, int seconds) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    int status = -1;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    do {
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(service);
      grpc::health::v1::HealthCheckResponse response;
      status = stub->Check(&context, request, &response).ok() ? response.status() : -1;
      if (status == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < give_up);
    return status;
  }

  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool stopped_ = false;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(BinaryTest, ServesHealthReflectionAndTheCliThenStopsOnSigterm) {
  using Response = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(WaitForHealth("", Response::SERVING, 120), Response::SERVING);
  EXPECT_EQ(WaitForHealth("xai.v1.Explainer/tiny", Response::SERVING, 10), Response::SERVING);

  // Server reflection lists the services, as grpcurl would ask.
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& s : response.list_services_response().service()) services.insert(s.name());
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(services.count("xai.v1.Explainer"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));

  // The CLI: tables, JSON, and the server's message with exit status 1 on error.
  const std::string cli = std::string(XAI_CLI_BINARY) + " --server " + address();
  std::string out;
  EXPECT_EQ(RunCommand(cli + " models", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("resnet18 "));
  EXPECT_THAT(out, HasSubstr("has 2 labels but the model outputs 3 classes"));
  EXPECT_EQ(RunCommand(cli + " describe resnet18", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("layer4.1.conv2"));
  EXPECT_THAT(out, HasSubstr("[1, 512, 7, 7]"));
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  EXPECT_EQ(RunCommand(cli + " --json classify resnet18 " + image + " -k 2", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"probability\""));
  EXPECT_THAT(out, HasSubstr("\"label\": \"class_"));
  EXPECT_EQ(RunCommand(cli + " classify nope " + image, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND: model \"nope\" not found"));
  EXPECT_EQ(RunCommand(cli + " classify tiny " + log_, &out), 1) << out;  // a text file
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_NE(RunCommand(std::string(XAI_CLI_BINARY) + " --server 127.0.0.1:1 --timeout 2 models", &out), 0);
  EXPECT_THAT(out, HasSubstr("UNAVAILABLE"));

  // SIGTERM: stops and exits 0.
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  stopped_ = true;
  EXPECT_TRUE(WIFEXITED(status)) << xai::testing::ReadBytes(log_);
  EXPECT_EQ(WEXITSTATUS(status), 0) << xai::testing::ReadBytes(log_);
  EXPECT_THAT(xai::testing::ReadBytes(log_), HasSubstr("stopped"));
}

TEST(BinaryHelpTest, HelpListsTheFlags) {
  std::string out;
  EXPECT_EQ(RunCommand(std::string(XAI_SERVER_BINARY) + " --help", &out), 0);
  for (const char* flag : {"--model-repository", "--address", "--log-level", "--intra-op-threads",
                           "--max-request-bytes", "--max-image-pixels"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
  EXPECT_EQ(RunCommand(std::string(XAI_CLI_BINARY) + " --help", &out), 0);
  for (const char* word : {"models", "describe", "classify", "--server", "--timeout", "--json"}) {
    EXPECT_THAT(out, HasSubstr(word));
  }
  EXPECT_NE(RunCommand(std::string(XAI_SERVER_BINARY) + " --model-repository /nonexistent --address 127.0.0.1:0", &out), 0);
  EXPECT_THAT(out, HasSubstr("/nonexistent"));
}

}  // namespace
