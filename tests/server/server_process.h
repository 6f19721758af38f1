// The fixture of the tests that run the real binaries: xai-server as a subprocess on
// localhost:0 (its port read back from its log) with the fixture repository, and the shell
// commands the tests run against it (the CLI, Python). Used by tests/server/binary_test.cc
// (the server's flags, logs, signals, soak) and tests/client/cli_test.cc (the CLI).
#ifndef XAI_TESTS_SERVER_SERVER_PROCESS_H_
#define XAI_TESTS_SERVER_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/core/test_paths.h"

namespace xai::testing {

// Runs `command` through the shell; returns its exit status and fills `output`.
inline int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BinaryTest : public ::testing::Test {
 protected:
  // Flags added to the server's command line, and the channel's credentials (a derived
  // fixture sets them).
  std::vector<std::string> extra_args_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();

  void SetUp() override {
    // A log of its own per server: reading a previous test's log would find its port.
    static int servers = 0;
    log_ = ::testing::TempDir() + "/xai_server_" + std::to_string(getpid()) + "_" +
           std::to_string(servers++) + ".log";
    std::filesystem::remove(log_);
    std::vector<std::string> args = {XAI_SERVER_BINARY,
                                     "--model-repository",
                                     xai::testing::FixtureRepo(),
                                     "--address",
                                     "127.0.0.1:0",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--http-address",
                                     "",
                                     "--log-level",
                                     "debug"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      freopen(log_.c_str(), "w", stdout);
      dup2(fileno(stdout), STDERR_FILENO);
      execv(XAI_SERVER_BINARY, argv.data());
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
    channel_ = grpc::CreateChannel(address(), credentials_);
  }

  void TearDown() override {
    if (pid_ > 0 && !stopped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    // A passing test's log goes; a failing one's stays beside the failure for reading.
    if (!HasFailure()) std::filesystem::remove(log_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // SIGTERM, then the exit status; the log is complete afterwards.
  int Stop() {
    EXPECT_EQ(kill(pid_, SIGTERM), 0);
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    stopped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

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

// A loopback port that was free a moment ago.
inline int FreePort() {
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  close(probe);
  return ntohs(address.sin_port);
}

}  // namespace xai::testing

#endif  // XAI_TESTS_SERVER_SERVER_PROCESS_H_
