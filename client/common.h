// What the xai CLI's subcommands share: the global options, connecting to xai-server,
// describing a failed call, and the shape, JSON and DecisionPath option helpers.
#ifndef XAI_CLIENT_COMMON_H_
#define XAI_CLIENT_COMMON_H_

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {

// Exit codes: 0 success, 1 an RPC or file failed, 2 bad usage (CLI11's own codes for
// parse errors are kept: 105-109).
inline constexpr int kExitFailure = 1;

struct GlobalOptions {
  std::string server;
  double timeout_seconds = 30;
  bool json = false;
};

std::unique_ptr<xai::v1::Explainer::Stub> Connect(const GlobalOptions& g);

void SetDeadline(grpc::ClientContext* context, const GlobalOptions& g);

// "CODE: message" of a failed call, with a hint at --server when it could not connect.
std::string Describe(const grpc::Status& status, const GlobalOptions& g);

// Ends a subcommand's run callback with `exit_code`. CLI11's callbacks return nothing, so a
// non-zero code leaves App::parse as a CLI::RuntimeError, which CLI11_PARSE returns from
// main without printing anything; 0 returns normally.
void ExitWith(int exit_code);

// "[1, 2, 3]".
std::string Shape(const google::protobuf::RepeatedField<int64_t>& shape);

nlohmann::json ClassesJson(const google::protobuf::RepeatedPtrField<xai::v1::ClassScore>& classes);

struct PathOptions {
  int target = -1;
  std::vector<std::string> layers;
  float threshold = 0.5f;
  int max_channels = 16;
  int top_chains = 3;
  std::string out_dir = ".";
};

// The DecisionPath settings `xai path` and `xai profile-paths` share.
void AddPathOptions(CLI::App* command, PathOptions* options);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMON_H_
