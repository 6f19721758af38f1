// What the xai CLI's subcommands share: the global options, connecting to xai-server,
// describing a failed call, and the shape, JSON and DecisionPath option helpers.
#ifndef XAI_CLIENT_COMMON_H_
#define XAI_CLIENT_COMMON_H_

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
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
  // TLS: on when `tls` or any file below is set.
  bool tls = false;
  std::string tls_ca_file;    // PEM CAs the server's certificate must chain to; empty: the system's
  std::string tls_cert_file;  // PEM client certificate, for servers with --tls-client-ca
  std::string tls_key_file;   // its private key
  std::string
      tls_server_name;     // the name the server's certificate must carry; empty: --server's host
  std::string token_file;  // a file holding the bearer token; else env XAI_TOKEN
  bool use_tls() const {
    return tls || !tls_ca_file.empty() || !tls_cert_file.empty() || !tls_key_file.empty();
  }
};

// Adds --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name and --token-file.
void AddConnectionOptions(CLI::App& app, GlobalOptions* g);

// A channel to --server, over TLS when asked. A TLS or token file that cannot be read is
// printed and ends the command with exit status 1.
std::shared_ptr<grpc::Channel> OpenChannel(const GlobalOptions& g);
std::unique_ptr<xai::v1::Explainer::Stub> Connect(const GlobalOptions& g);

// Sets the call's deadline (--timeout) and, with a token, its authorization metadata.
void PrepareCall(grpc::ClientContext* context, const GlobalOptions& g);

// An enum's value names in lower case with their numbers, read from the proto (so that a
// value added there is accepted by the CLI), without its *_UNSPECIFIED value.
std::vector<std::pair<std::string, int>> LowerCaseEnumNames(
    const google::protobuf::EnumDescriptor* descriptor);

// The overlay flags of gradcam and attribute.
struct OverlayFlags {
  bool no_overlay = false;
  float image_weight = 0.5f;
  std::string colormap;  // "": the server's default
  bool at_input = false;
  int png_compression = 1;
};

// Adds --no-overlay, --image-weight, --colormap (`colormap_default` in its help),
// --overlay-at-input and --png-compression; returns --no-overlay, which the others (and the
// command's own overlay flags) exclude.
CLI::Option* AddOverlayFlags(CLI::App* command, OverlayFlags* flags,
                             const std::string& colormap_default);

// The request's overlay from the flags: enabled unless --no-overlay.
void SetOverlay(const OverlayFlags& flags, xai::v1::OverlayOptions* overlay);

// "CODE: message" of a failed call, with a hint at --server when it could not connect.
std::string Describe(const grpc::Status& status, const GlobalOptions& g);

// Ends a subcommand's run callback with `exit_code`. CLI11's callbacks return nothing, so a
// non-zero code leaves App::parse as a CLI::RuntimeError, which CLI11_PARSE returns from
// main without printing anything; 0 returns normally.
void ExitWith(int exit_code);

// "[1, 2, 3]".
std::string Shape(const google::protobuf::RepeatedField<int64_t>& shape);

// A model version's status as a table row (MODEL, VERSION, STATE, DEVICES, REASON) and
// as JSON, for `xai models` and `xai admin`.
inline const std::vector<std::string> kModelStatusHeader = {"MODEL", "VERSION", "STATE", "DEVICES",
                                                            "REASON"};
std::vector<std::string> ModelStatusRow(const xai::v1::ModelStatus& m);
nlohmann::json ModelStatusJson(const xai::v1::ModelStatus& m);

nlohmann::json ClassesJson(const google::protobuf::RepeatedPtrField<xai::v1::ClassScore>& classes);

// One call per image, in turn: reads the image, then `call(index, path, bytes)` makes the
// call and prints or collects its answer, returning "" or an error. A failure goes to stderr
// as "xai COMMAND: PATH: ERROR" (a file error as is: it names the file) and, with --json,
// into `results` as {"image", "error"}; a progress bar steps per image. Returns how many
// failed.
int ForEachImage(const GlobalOptions& g, const std::string& command,
                 const std::vector<std::string>& images, nlohmann::json* results,
                 const std::function<std::string(size_t index, const std::string& path,
                                                 std::string bytes)>& call);

// `value` as indented JSON text; bytes that are not UTF-8 (a file name from the command
// line, a server's message) become U+FFFD instead of throwing.
std::string JsonText(const nlohmann::json& value);

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
