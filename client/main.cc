// xai: command-line client of xai-server.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "client/output.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace {

using json = nlohmann::json;
using xai::client::FormatFloat;
using xai::client::PrintTable;

// Exit codes: 0 success, 1 an RPC or file failed, 2 bad usage (CLI11's own codes for
// parse errors are kept: 105-109).
constexpr int kExitFailure = 1;

struct GlobalOptions {
  std::string server;
  double timeout_seconds = 30;
  bool json = false;
};

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

std::string StatusCodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : std::to_string(i);
}

std::string Describe(const grpc::Status& status, const GlobalOptions& g) {
  std::string text = StatusCodeName(status.error_code()) + ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().find("connect") != std::string::npos) {
    text += " (is xai-server running at " + g.server + "? see --server)";
  }
  return text;
}

bool ReadFile(const std::string& path, std::string* bytes, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::ostringstream out;
  out << in.rdbuf();
  *bytes = out.str();
  return true;
}

std::string Shape(const google::protobuf::RepeatedField<int64_t>& shape) {
  std::string out = "[";
  for (int i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

json ClassesJson(const google::protobuf::RepeatedPtrField<xai::v1::ClassScore>& classes) {
  json out = json::array();
  for (const auto& c : classes) {
    out.push_back({{"index", c.index()}, {"label", c.label()}, {"probability", c.probability()},
                   {"logit", c.logit()}});
  }
  return out;
}

int RunModels(const GlobalOptions& g) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  SetDeadline(&context, g);
  xai::v1::ListModelsResponse response;
  const grpc::Status status = stub->ListModels(&context, {}, &response);
  if (!status.ok()) {
    std::cerr << "xai models: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json out = json::array();
    for (const auto& m : response.models()) {
      out.push_back({{"name", m.name()}, {"version", m.version()}, {"state", m.state()},
                     {"reason", m.reason()},
                     {"devices", std::vector<std::string>(m.devices().begin(), m.devices().end())}});
    }
    std::cout << json{{"models", out}}.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : response.models()) {
    std::string devices;
    for (const auto& d : m.devices()) devices += (devices.empty() ? "" : ",") + d;
    rows.push_back({m.name(), std::to_string(m.version()), m.state(), devices, m.reason()});
  }
  PrintTable(stdout, {"MODEL", "VERSION", "STATE", "DEVICES", "REASON"}, rows);
  return 0;
}

int RunDescribe(const GlobalOptions& g, const std::string& model, int64_t version) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  SetDeadline(&context, g);
  xai::v1::DescribeModelRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  xai::v1::DescribeModelResponse r;
  const grpc::Status status = stub->DescribeModel(&context, request, &r);
  if (!status.ok()) {
    std::cerr << "xai describe: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json layers = json::array();
    for (const auto& l : r.layers()) {
      layers.push_back({{"path", l.path()}, {"type", l.type()},
                        {"output_shape", std::vector<int64_t>(l.output_shape().begin(), l.output_shape().end())},
                        {"cam_target", l.cam_target()}});
    }
    std::cout << json{{"model", {{"name", r.model().name()}, {"version", r.model().version()}}},
                      {"input_shape", std::vector<int64_t>(r.input_shape().begin(), r.input_shape().end())},
                      {"num_classes", r.num_classes()},
                      {"labels", std::vector<std::string>(r.labels().begin(), r.labels().end())},
                      {"default_cam_layer", r.default_cam_layer()},
                      {"default_path_layers", std::vector<std::string>(r.default_path_layers().begin(),
                                                                       r.default_path_layers().end())},
                      {"layers", layers}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::string labels;
  for (const auto& l : r.labels()) labels += (labels.empty() ? "" : ", ") + l;
  std::string path_layers;
  for (const auto& l : r.default_path_layers()) path_layers += (path_layers.empty() ? "" : ", ") + l;
  std::printf("model:               %s v%lld\n", r.model().name().c_str(),
              static_cast<long long>(r.model().version()));
  std::printf("input shape:         %s  ([C,H,W])\n", Shape(r.input_shape()).c_str());
  std::printf("classes:             %d\n", r.num_classes());
  std::printf("labels:              %s\n", labels.empty() ? "(none)" : labels.c_str());
  std::printf("default CAM layer:   %s\n", r.default_cam_layer().c_str());
  std::printf("default path layers: %s\n\n", path_layers.c_str());
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : r.layers()) {
    rows.push_back({l.path(), l.type(), l.output_shape().empty() ? "-" : Shape(l.output_shape()),
                    l.cam_target() ? "yes" : ""});
  }
  PrintTable(stdout, {"LAYER", "TYPE", "OUTPUT SHAPE", "CAM"}, rows);
  return 0;
}

int RunClassify(const GlobalOptions& g, const std::string& model, int64_t version,
                const std::vector<std::string>& images, int top_k) {
  auto stub = Connect(g);
  int failures = 0;
  json results = json::array();
  xai::client::ProgressBar progress("classify", static_cast<int>(images.size()));
  for (const std::string& path : images) {
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name(model);
    request.mutable_model()->set_version(version);
    request.set_top_k(top_k);
    std::string error;
    if (!ReadFile(path, request.mutable_image()->mutable_encoded(), &error)) {
      ++failures;
      std::cerr << "xai classify: " << error << "\n";
      if (g.json) results.push_back({{"image", path}, {"error", error}});
      progress.Step(path);
      continue;
    }
    grpc::ClientContext context;
    SetDeadline(&context, g);
    xai::v1::ClassifyResponse response;
    const grpc::Status status = stub->Classify(&context, request, &response);
    progress.Step(path);
    if (!status.ok()) {
      ++failures;
      std::cerr << "xai classify: " << path << ": " << Describe(status, g) << "\n";
      if (g.json) results.push_back({{"image", path}, {"error", Describe(status, g)}});
      continue;
    }
    if (g.json) {
      results.push_back({{"image", path},
                         {"model", {{"name", response.model().name()}, {"version", response.model().version()}}},
                         {"classes", ClassesJson(response.classes())}});
      continue;
    }
    std::printf("%s  (model %s v%lld)\n", path.c_str(), response.model().name().c_str(),
                static_cast<long long>(response.model().version()));
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : response.classes()) {
      rows.push_back({"  " + std::to_string(c.index()), c.label(), FormatFloat(c.probability(), 4),
                      FormatFloat(c.logit(), 3)});
    }
    PrintTable(stdout, {"  CLASS", "LABEL", "PROBABILITY", "LOGIT"}, rows);
    std::printf("\n");
  }
  if (g.json) std::cout << json{{"results", results}}.dump(2) << "\n";
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions g;
  const char* env_server = std::getenv("XAI_SERVER");
  g.server = env_server != nullptr ? env_server : "localhost:50051";

  CLI::App app{"xai: explain image classifiers served by xai-server.\n"
               "Exit status: 0 success, 1 a call or file failed (the server's message is printed)."};
  app.require_subcommand(1);
  app.add_option("--server", g.server, "xai-server address host:port (env XAI_SERVER)")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds, "Deadline of each call, in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", g.json, "Print JSON for machines instead of tables");

  auto* models = app.add_subcommand("models", "List every model version and its state");

  std::string model;
  int64_t version = 0;
  auto* describe = app.add_subcommand("describe", "Input, labels and layers of a model");
  describe->add_option("MODEL", model, "Model name")->required();
  describe->add_option("--version", version, "Model version (0: newest ready)")->capture_default_str();

  std::vector<std::string> images;
  int top_k = 5;
  auto* classify = app.add_subcommand("classify", "Class probabilities of images");
  classify->add_option("MODEL", model, "Model name")->required();
  classify->add_option("IMAGE", images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  classify->add_option("--version", version, "Model version (0: newest ready)")->capture_default_str();
  classify->add_option("-k,--top-k", top_k, "Classes to print per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));

  CLI11_PARSE(app, argc, argv);
  if (*models) return RunModels(g);
  if (*describe) return RunDescribe(g, model, version);
  if (*classify) return RunClassify(g, model, version, images, top_k);
  return 2;
}
