// xai-server's address flags as a shell passes them: an empty value, `--flag=` or
// `--flag ""`, turns a port off where off exists and is refused where it does not, and is
// never `--flag` followed by the next argument as its value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/test_paths.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ServerRun {
  int exit_code = -1;
  std::string log;
};

// Starts xai-server on an empty repository with `flags`; once it says where it listens (or
// exits), sends SIGTERM and returns its exit code and everything it printed.
ServerRun StartAndStop(const std::vector<std::string>& flags) {
  static int runs = 0;
  const std::string log = ::testing::TempDir() + "/address_flags_" + std::to_string(getpid()) +
                          "_" + std::to_string(runs++) + ".log";
  const std::string repository = ::testing::TempDir() + "/address_flags_empty_repository";
  std::filesystem::create_directories(repository);
  std::vector<std::string> args = {XAI_SERVER_BINARY, "--model-repository=" + repository};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    freopen(log.c_str(), "w", stdout);
    dup2(fileno(stdout), STDERR_FILENO);
    execv(XAI_SERVER_BINARY, argv.data());
    _exit(127);
  }
  ServerRun run;
  int status = 0;
  bool exited = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (xai::testing::ReadBytes(log).find("listening on") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.log = xai::testing::ReadBytes(log);
  std::filesystem::remove(log);
  return run;
}

TEST(AddressFlagsTest, EmptyMetricsAndHttpAddressesAreOffAndDoNotTakeTheNextArgument) {
  for (const std::vector<std::string>& flags : std::vector<std::vector<std::string>>{
           {"--metrics-address=", "--http-address=", "--log-format=json", "--address=127.0.0.1:0"},
           {"--metrics-address", "", "--http-address", "", "--log-format", "json", "--address",
            "127.0.0.1:0"}}) {
    const ServerRun run = StartAndStop(flags);
    EXPECT_EQ(run.exit_code, 0) << run.log;
    EXPECT_THAT(run.log, HasSubstr("listening on 127.0.0.1:0 (port ")) << run.log;
    EXPECT_THAT(run.log, Not(HasSubstr("metrics at "))) << run.log;
    EXPECT_THAT(run.log, Not(HasSubstr("REST"))) << run.log;
    // --log-format=json, the argument after the empty values, was read as itself.
    EXPECT_THAT(run.log, HasSubstr("\"msg\":\"listening on 127.0.0.1:0")) << run.log;
  }
}

TEST(AddressFlagsTest, EachAddressFlagServesTheAddressItIsGiven) {
  const ServerRun run = StartAndStop({"--address=127.0.0.1:0", "--metrics-address=127.0.0.1:0",
                                      "--http-address=127.0.0.1:0", "--log-level=info"});
  EXPECT_EQ(run.exit_code, 0) << run.log;
  EXPECT_THAT(run.log, HasSubstr("listening on 127.0.0.1:0 (port ")) << run.log;
  EXPECT_THAT(run.log, HasSubstr("metrics at http://127.0.0.1:0/metrics (port ")) << run.log;
  EXPECT_THAT(run.log, HasSubstr("REST and the web page at http://127.0.0.1:0/ (port ")) << run.log;
  // off is off too.
  const ServerRun off = StartAndStop(
      {"--address=127.0.0.1:0", "--metrics-address=off", "--http-address=off", "--log-level=info"});
  EXPECT_EQ(off.exit_code, 0) << off.log;
  EXPECT_THAT(off.log, Not(HasSubstr("metrics at "))) << off.log;
  EXPECT_THAT(off.log, Not(HasSubstr("REST"))) << off.log;
}

TEST(AddressFlagsTest, AnEmptyGrpcOrHealthAddressIsRefusedWithTheFlagsName) {
  // The gRPC port cannot be off.
  const ServerRun grpc = StartAndStop({"--address=", "--log-level=info"});
  EXPECT_NE(grpc.exit_code, 0) << grpc.log;
  EXPECT_THAT(grpc.log, HasSubstr("--address")) << grpc.log;
  EXPECT_THAT(grpc.log, Not(HasSubstr("listening on"))) << grpc.log;
  // The plaintext health port is for TLS servers only; empty is its default, off.
  const ServerRun health = StartAndStop({"--health-address=", "--address=127.0.0.1:0"});
  EXPECT_EQ(health.exit_code, 0) << health.log;
  EXPECT_THAT(health.log, Not(HasSubstr("plaintext health checks"))) << health.log;
  // Without TLS a health address is refused, and says why.
  const ServerRun plain = StartAndStop({"--health-address=127.0.0.1:0", "--address=127.0.0.1:0"});
  EXPECT_NE(plain.exit_code, 0) << plain.log;
  EXPECT_THAT(plain.log, HasSubstr("--health-address")) << plain.log;
}

}  // namespace
