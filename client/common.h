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

// Exit codes: 0 success, 1 an RPC or file failed, 2 bad usage (a parse error, a value the
// command cannot use: CLI11's own codes 105-109 are not used).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints a parse error as "xai COMMAND: MESSAGE" with where the help is (and, when a
// command's MODEL argument got an image file, that the model's name comes first), and
// returns kExitUsage.
int ReportUsageError(CLI::App& app, const CLI::ParseError& error);

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
// `args` are the channel's own settings (the message size limits are lifted here).
std::shared_ptr<grpc::Channel> OpenChannel(const GlobalOptions& g,
                                           grpc::ChannelArguments args = {});
std::unique_ptr<xai::v1::Explainer::Stub> Connect(const GlobalOptions& g);

// Sets the call's deadline (--timeout) and, with a token, its authorization metadata.
void PrepareCall(grpc::ClientContext* context, const GlobalOptions& g);

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

// The gRPC code's name ("UNAVAILABLE"), or its number when gRPC defines none.
std::string CodeName(grpc::StatusCode code);

// "CODE: message" of a failed call, with a hint at --server when it could not connect.
std::string Describe(const grpc::Status& status, const GlobalOptions& g);

// Ends a subcommand's run callback with `exit_code`. CLI11's callbacks return nothing, so a
// non-zero code leaves App::parse as a CLI::RuntimeError, whose code main returns without
// printing anything; 0 returns normally.
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

// Adds --target: a class index or its label, as the model's labels file names it ("star");
// repeatable into a vector. `help` says what none means.
CLI::Option* AddTargetOption(CLI::App* command, std::vector<std::string>* targets,
                             const std::string& help);
CLI::Option* AddTargetOption(CLI::App* command, std::string* target, const std::string& help);

// The class indices of --target's values: numbers as they are, labels looked up with
// DescribeModel (exactly, else case-insensitively when that is unambiguous). On failure
// prints "xai COMMAND: ..." and returns kExitUsage (an unknown label, with the labels) or
// kExitFailure (the call failed); else 0.
int ResolveTargets(const GlobalOptions& g, const std::string& command, const std::string& model,
                   int64_t version, const std::vector<std::string>& targets,
                   std::vector<int>* indices);

// What `method` (a CamMethod or AttributionMethod name, "GRAD_CAM") shows, in words: its
// MethodInfo.legend from DescribeModel; "" when the call fails or the server sends none.
std::string MethodLegend(const GlobalOptions& g, const std::string& model, int64_t version,
                         const std::string& method);

// The class index `target` names among the model's `labels`: a number as it is, else the
// label exactly, else case-insensitively when that is unambiguous. "" on success, else what
// is wrong with the fix ("no class of model M is labelled so; its labels: ...").
std::string TargetIndex(const std::vector<std::string>& labels, const std::string& model,
                        const std::string& target, int* index);

// Adds --out DIR (default ".", made if missing), which every command that writes files
// takes. It refuses an existing file and, where the command also takes --out-file (see
// AddOutFileOption), a value ending in `single_file_extension` (".png"), with the fix.
CLI::Option* AddOutDirOption(CLI::App* command, std::string* dir,
                             const std::string& single_file_extension = "");
// Makes --out's directory (and its parents); on failure prints "xai COMMAND: cannot create
// DIR: why" and returns false.
bool MakeOutDir(const std::string& command, const std::string& dir);

// `text` in lower case (ASCII).
std::string LowerCase(std::string text);

// Adds --out-file FILE, excluding --out: where a command writes one file, its exact name.
CLI::Option* AddOutFileOption(CLI::App* command, std::string* file, CLI::Option* out_dir,
                              const std::string& help);

struct PathOptions {
  std::string target;  // an index or a label (ResolveTargets); "": the top-1 class
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
