// What the xai CLI's subcommands share: connecting, describing a failed call, helpers.
#include "client/common.h"

#include <chrono>
#include <string>

#include "core/base/status.h"

namespace xai::client {

using json = nlohmann::json;

std::unique_ptr<xai::v1::Explainer::Stub> Connect(const GlobalOptions& g) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return xai::v1::Explainer::NewStub(
      grpc::CreateCustomChannel(g.server, grpc::InsecureChannelCredentials(), args));
}

void SetDeadline(grpc::ClientContext* context, const GlobalOptions& g) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(g.timeout_seconds * 1000)));
}

std::string Describe(const grpc::Status& status, const GlobalOptions& g) {
  // Core names the 17 codes gRPC defines; a server may send any other number.
  const int code = static_cast<int>(status.error_code());
  const bool named = code >= 0 && code <= static_cast<int>(xai::core::StatusCode::kUnauthenticated);
  std::string text =
      named ? std::string(xai::core::StatusCodeName(static_cast<xai::core::StatusCode>(code)))
            : std::to_string(code);
  text += ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().find("connect") != std::string::npos) {
    text += " (is xai-server running at " + g.server + "? see --server)";
  }
  return text;
}

void ExitWith(int exit_code) {
  if (exit_code != 0) throw CLI::RuntimeError(exit_code);
}

std::string Shape(const google::protobuf::RepeatedField<int64_t>& shape) {
  std::string out = "[";
  for (int i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

json ClassesJson(const google::protobuf::RepeatedPtrField<xai::v1::ClassScore>& classes) {
  json out = json::array();
  for (const auto& c : classes) {
    out.push_back({{"index", c.index()},
                   {"label", c.label()},
                   {"probability", c.probability()},
                   {"logit", c.logit()}});
  }
  return out;
}

void AddPathOptions(CLI::App* command, PathOptions* options) {
  command
      ->add_option("--layer", options->layers,
                   "Module path, shallow to deep; repeat for each layer; none: the model's default "
                   "path layers")
      ->allow_extra_args(false);
  command
      ->add_option("--threshold", options->threshold,
                   "Share of positive relevance a critical set covers")
      ->capture_default_str()
      ->check(CLI::Range(0.0001f, 1.0f));
  command->add_option("--max-channels", options->max_channels, "Largest critical set per layer")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

}  // namespace xai::client
