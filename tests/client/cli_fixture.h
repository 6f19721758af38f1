// The CLI's tests' fixture: a real xai-server on the fixture repository
// (tests/server/server_process.h), the CLI pointed at it, and a scratch folder per test.
#ifndef XAI_TESTS_CLIENT_CLI_FIXTURE_H_
#define XAI_TESTS_CLIENT_CLI_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/server/server_process.h"

namespace xai::testing {

class CliTest : public BinaryTest {
 protected:
  void SetUp() override {
    BinaryTest::SetUp();
    if (HasFatalFailure()) return;
    using Response = grpc::health::v1::HealthCheckResponse;
    ASSERT_EQ(WaitForHealth("", Response::SERVING, 120), Response::SERVING);
  }

  // The CLI against this test's server.
  std::string Cli() const { return std::string(XAI_CLI_BINARY) + " --server " + address(); }

  // A scratch path of this test (the commands make the folders they are given).
  static std::string Scratch() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return (std::filesystem::path(::testing::TempDir()) /
            ("xai_cli_" + std::string(test->name()) + "_" + std::to_string(getpid())))
        .string();
  }
};

}  // namespace xai::testing

#endif  // XAI_TESTS_CLIENT_CLI_FIXTURE_H_
