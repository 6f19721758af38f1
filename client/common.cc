// What the xai CLI's subcommands share: connecting, describing a failed call, helpers.
#include "client/common.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "client/output.h"
#include "core/base/files.h"
#include "core/base/status.h"

namespace xai::client {

using json = nlohmann::json;

namespace {

// The file's bytes, or a message and exit status 1.
std::string ReadOrExit(const std::string& path, const char* what) {
  auto bytes = core::ReadFile(path);
  if (!bytes.ok()) {
    std::cerr << "xai: " << what << ": " << bytes.status().message() << "\n";
    ExitWith(kExitFailure);
  }
  return *bytes;
}

// The bearer token: --token-file's first line, else XAI_TOKEN; empty: none.
std::string Token(const GlobalOptions& g) {
  std::string token;
  if (!g.token_file.empty()) {
    token = ReadOrExit(g.token_file, "--token-file");
    token = token.substr(0, token.find('\n'));
  } else if (const char* env = std::getenv("XAI_TOKEN"); env != nullptr) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

}  // namespace

void AddConnectionOptions(CLI::App& app, GlobalOptions* g) {
  app.add_flag("--tls", g->tls,
               "Connect over TLS, checking the server's certificate against the system's CAs "
               "(implied by the --tls-* files)");
  app.add_option("--tls-ca", g->tls_ca_file,
                 "PEM CA certificate(s) the server's certificate must chain to")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", g->tls_cert_file,
                 "PEM client certificate, for servers that require one (--tls-client-ca)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", g->tls_key_file, "PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-server-name", g->tls_server_name,
                 "Name the server's certificate must carry, when --server's host is not it");
  app.add_option("--token-file", g->token_file,
                 "File whose first line is the bearer token for servers with --auth-tokens "
                 "(else env XAI_TOKEN)")
      ->check(CLI::ExistingFile);
}

std::shared_ptr<grpc::Channel> OpenChannel(const GlobalOptions& g, grpc::ChannelArguments args) {
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (!g.use_tls()) {
    return grpc::CreateCustomChannel(g.server, grpc::InsecureChannelCredentials(), args);
  }
  if (g.tls_cert_file.empty() != g.tls_key_file.empty()) {
    std::cerr << "xai: --tls-cert and --tls-key go together\n";
    ExitWith(kExitUsage);
  }
  grpc::SslCredentialsOptions ssl;
  if (!g.tls_ca_file.empty()) ssl.pem_root_certs = ReadOrExit(g.tls_ca_file, "--tls-ca");
  if (!g.tls_cert_file.empty()) {
    ssl.pem_cert_chain = ReadOrExit(g.tls_cert_file, "--tls-cert");
    ssl.pem_private_key = ReadOrExit(g.tls_key_file, "--tls-key");
  }
  if (!g.tls_server_name.empty()) args.SetSslTargetNameOverride(g.tls_server_name);
  return grpc::CreateCustomChannel(g.server, grpc::SslCredentials(ssl), args);
}

std::unique_ptr<xai::v1::Explainer::Stub> Connect(const GlobalOptions& g) {
  return xai::v1::Explainer::NewStub(OpenChannel(g));
}

void PrepareCall(grpc::ClientContext* context, const GlobalOptions& g) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(g.timeout_seconds * 1000)));
  static const std::string token = Token(g);
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

std::string CodeName(grpc::StatusCode code) {
  // Core names the 17 codes gRPC defines; a server may send any other number.
  const int number = static_cast<int>(code);
  const bool named =
      number >= 0 && number <= static_cast<int>(xai::core::StatusCode::kUnauthenticated);
  return named ? std::string(xai::core::StatusCodeName(static_cast<xai::core::StatusCode>(number)))
               : std::to_string(number);
}

std::string Describe(const grpc::Status& status, const GlobalOptions& g) {
  std::string text = CodeName(status.error_code()) + ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().find("connect") != std::string::npos) {
    text += " (is xai-server running at " + g.server + "? see --server";
    text += g.use_tls() ? "; does it speak TLS, with a certificate --tls-ca trusts?)"
                        : "; does it need --tls?)";
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    text += " (see --token-file or XAI_TOKEN)";
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

std::vector<std::string> ModelStatusRow(const xai::v1::ModelStatus& m) {
  std::string devices;
  for (const auto& d : m.devices()) devices += (devices.empty() ? "" : ",") + d;
  return {m.name(), std::to_string(m.version()), m.state(), devices, m.reason()};
}

int ForEachImage(const GlobalOptions& g, const std::string& command,
                 const std::vector<std::string>& images, json* results,
                 const std::function<std::string(size_t index, const std::string& path,
                                                 std::string bytes)>& call) {
  int failures = 0;
  ProgressBar progress(command, static_cast<int>(images.size()));
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string& path = images[i];
    core::StatusOr<std::string> bytes = core::ReadFile(path);
    const std::string error = bytes.ok() ? call(i, path, std::move(*bytes)) : std::string();
    progress.Step(path);
    if (bytes.ok() && error.empty()) continue;
    ++failures;
    const std::string reported = bytes.ok() ? error : std::string(bytes.status().message());
    std::cerr << "xai " << command << ": " << (bytes.ok() ? path + ": " : "") << reported << "\n";
    if (g.json) results->push_back({{"image", path}, {"error", reported}});
  }
  return failures;
}

std::string JsonText(const json& value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace);
}

json ModelStatusJson(const xai::v1::ModelStatus& m) {
  return {{"name", m.name()},
          {"version", m.version()},
          {"state", m.state()},
          {"reason", m.reason()},
          {"devices", std::vector<std::string>(m.devices().begin(), m.devices().end())}};
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

CLI::Option* AddOutDirOption(CLI::App* command, std::string* dir,
                             const std::string& single_file_extension) {
  return command->add_option("--out", *dir, "Directory for the files, made if missing")
      ->type_name("DIR")
      ->capture_default_str()
      ->check([single_file_extension](const std::string& value) -> std::string {
        std::error_code ec;
        if (std::filesystem::is_regular_file(value, ec)) {
          return value + " is a file: --out takes a directory" +
                 (single_file_extension.empty() ? std::string()
                                                : " (--out-file FILE names the one file)");
        }
        const std::string& ext = single_file_extension;
        if (!ext.empty() && value.size() > ext.size() &&
            value.compare(value.size() - ext.size(), ext.size(), ext) == 0) {
          return "--out takes a directory; for one file named " + value + " use --out-file " +
                 value;
        }
        return "";
      });
}

bool MakeOutDir(const std::string& command, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    std::cerr << "xai " << command << ": cannot create " << dir << ": " << ec.message() << "\n";
  return !ec;
}

std::string LowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

CLI::Option* AddOutFileOption(CLI::App* command, std::string* file, CLI::Option* out_dir,
                              const std::string& help) {
  CLI::Option* option = command->add_option("--out-file", *file, help)->type_name("FILE");
  option->excludes(out_dir);
  return option;
}

int ReportUsageError(CLI::App& app, const CLI::ParseError& error) {
  // The command the error belongs to: the last subcommand parsed, nested ones included.
  CLI::App* command = &app;
  std::string name = "xai";
  while (!command->get_subcommands().empty()) {
    command = command->get_subcommands().back();
    name += " " + command->get_name();
  }
  std::cerr << name << ": " << error.what() << "\n";
  // `xai classify star.png`: the image was taken as the model's name.
  if (const CLI::Option* model = command->get_option_no_throw("MODEL");
      model != nullptr && model->count() == 1) {
    const std::string value = model->results().front();
    std::error_code ec;
    if (std::filesystem::is_regular_file(value, ec)) {
      std::cerr << name << ": \"" << value
                << "\" was read as MODEL: the model's name comes first (`xai models` lists "
                   "them), e.g. "
                << name << " MODEL " << value << "\n";
    }
  }
  std::cerr << "Run `" << name << " --help` for its arguments and options.\n";
  return kExitUsage;
}

namespace {

CLI::Option* TargetOption(CLI::Option* option) {
  return option->type_name("CLASS")->check([](const std::string& value) -> std::string {
    if (value.empty()) return "is empty: give a class index or label";
    if (value.find_first_not_of("0123456789") == std::string::npos && value.size() > 9) {
      return "class index " + value + " is too large";
    }
    return "";
  });
}

const char kTargetHelp[] = "Class to explain: its index or its label (e.g. 3 or star); ";

}  // namespace

CLI::Option* AddTargetOption(CLI::App* command, std::vector<std::string>* targets,
                             const std::string& help) {
  return TargetOption(command->add_option("--target", *targets, kTargetHelp + help))
      ->allow_extra_args(false);
}

CLI::Option* AddTargetOption(CLI::App* command, std::string* target, const std::string& help) {
  return TargetOption(command->add_option("--target", *target, kTargetHelp + help));
}

namespace {

// DescribeModel of `model` at `version`, with --timeout and the token.
grpc::Status DescribeModelOf(const GlobalOptions& g, const std::string& model, int64_t version,
                             xai::v1::DescribeModelResponse* response) {
  xai::v1::DescribeModelRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  grpc::ClientContext context;
  PrepareCall(&context, g);
  return Connect(g)->DescribeModel(&context, request, response);
}

}  // namespace

std::string MethodLegend(const GlobalOptions& g, const std::string& model, int64_t version,
                         const std::string& method) {
  xai::v1::DescribeModelResponse response;
  if (!DescribeModelOf(g, model, version, &response).ok()) return "";
  for (const auto& m : response.methods()) {
    if (m.name() == method) return m.legend();
  }
  return "";
}

int ResolveTargets(const GlobalOptions& g, const std::string& command, const std::string& model,
                   int64_t version, const std::vector<std::string>& targets,
                   std::vector<int>* indices) {
  indices->clear();
  auto is_number = [](const std::string& t) {
    return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  };
  std::vector<std::string> labels;
  if (!std::all_of(targets.begin(), targets.end(), is_number)) {
    xai::v1::DescribeModelResponse response;
    const grpc::Status status = DescribeModelOf(g, model, version, &response);
    if (!status.ok()) {
      std::cerr << "xai " << command << ": looking up --target's labels: " << Describe(status, g)
                << "\n";
      return kExitFailure;
    }
    labels.assign(response.labels().begin(), response.labels().end());
  }
  for (const std::string& target : targets) {
    int index = 0;
    if (const std::string error = TargetIndex(labels, model, target, &index); !error.empty()) {
      std::cerr << "xai " << command << ": --target " << target << ": " << error << "\n";
      return kExitUsage;
    }
    indices->push_back(index);
  }
  return 0;
}

std::string TargetIndex(const std::vector<std::string>& labels, const std::string& model,
                        const std::string& target, int* index) {
  if (!target.empty() && target.find_first_not_of("0123456789") == std::string::npos) {
    if (target.size() > 9) return "class index " + target + " is too large";
    *index = std::stoi(target);
    return "";
  }
  std::vector<int> exact, folded;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == target) exact.push_back(static_cast<int>(i));
    if (LowerCase(labels[i]) == LowerCase(target)) folded.push_back(static_cast<int>(i));
  }
  const std::vector<int>& found = !exact.empty() ? exact : folded;
  if (found.size() == 1) {
    *index = found.front();
    return "";
  }
  std::string error;
  if (labels.empty()) {
    error = "model " + model + " has no labels file: give a class index";
  } else if (found.size() > 1) {
    error = "several classes of model " + model + " are labelled so (";
    for (size_t i = 0; i < found.size(); ++i) error += (i ? ", " : "") + std::to_string(found[i]);
    error += "): give the index";
  } else {
    error = "no class of model " + model + " is labelled so; its labels: ";
    const size_t shown = std::min<size_t>(labels.size(), 20);
    for (size_t i = 0; i < shown; ++i) error += (i ? ", " : "") + labels[i];
    if (shown < labels.size()) {
      error += ", ... (" + std::to_string(labels.size()) + "; `xai describe`)";
    }
  }
  return error;
}

CLI::Option* AddOverlayFlags(CLI::App* command, OverlayFlags* flags,
                             const std::string& colormap_default) {
  CLI::Option* no_overlay =
      command->add_flag("--no-overlay", flags->no_overlay, "Write no overlay PNG");
  command
      ->add_option("--image-weight", flags->image_weight,
                   "Weight of the image in the overlay: 0 heatmap only, 1 image only")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f))
      ->excludes(no_overlay);
  command
      ->add_option("--colormap", flags->colormap,
                   "OpenCV colormap of the overlay: jet, turbo, viridis, inferno, magma, plasma, "
                   "cividis, hot, bone, ... (the server checks the name); default: " +
                       colormap_default)
      ->excludes(no_overlay);
  command
      ->add_flag("--overlay-at-input", flags->at_input,
                 "Draw the overlay over the model's input (after resize and crop) instead of the "
                 "original image")
      ->excludes(no_overlay);
  command->add_option("--png-compression", flags->png_compression, "zlib level of the overlay PNG")
      ->capture_default_str()
      ->check(CLI::Range(1, 9))
      ->excludes(no_overlay);
  return no_overlay;
}

void SetOverlay(const OverlayFlags& flags, xai::v1::OverlayOptions* overlay) {
  if (flags.no_overlay) return;
  overlay->set_enabled(true);
  overlay->set_image_weight(flags.image_weight);  // 0: the heatmap alone
  overlay->set_colormap(flags.colormap);
  overlay->set_model_input_size(flags.at_input);
  overlay->set_png_compression(flags.png_compression);
}

}  // namespace xai::client
