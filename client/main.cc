// xai: command-line client of xai-server.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "client/npy.h"
#include "client/output.h"
#include "core/repository/path_profile.h"
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

bool WriteFile(const std::string& path, const std::string& bytes, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
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
    out.push_back({{"index", c.index()},
                   {"label", c.label()},
                   {"probability", c.probability()},
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
      out.push_back(
          {{"name", m.name()},
           {"version", m.version()},
           {"state", m.state()},
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

int RunStats(const GlobalOptions& g, const std::string& model, int64_t version) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  SetDeadline(&context, g);
  xai::v1::ModelStatisticsRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  xai::v1::ModelStatisticsResponse response;
  const grpc::Status status = stub->ModelStatistics(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "xai stats: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  auto average_ms = [](uint64_t total_ns, uint64_t count) {
    return count == 0 ? std::string("-") : FormatFloat(total_ns / 1e6 / count, 2);
  };
  json models = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : response.models()) {
    json methods = json::array();
    for (const auto& s : m.methods()) {
      const uint64_t count = s.success_count() + s.failure_count();
      std::string batches;
      std::map<int32_t, uint64_t> sorted(s.batch_size_counts().begin(),
                                         s.batch_size_counts().end());
      json histogram = json::object();
      for (const auto& [size, n] : sorted) {
        batches += (batches.empty() ? "" : " ") + std::to_string(size) + ":" + std::to_string(n);
        histogram[std::to_string(size)] = n;
      }
      rows.push_back({m.model().name(), std::to_string(m.model().version()), s.method(),
                      std::to_string(s.success_count()), std::to_string(s.failure_count()),
                      average_ms(s.queue_ns(), count), average_ms(s.compute_ns(), count),
                      average_ms(s.total_ns(), count), batches.empty() ? "-" : batches});
      methods.push_back({{"method", s.method()},
                         {"success_count", s.success_count()},
                         {"failure_count", s.failure_count()},
                         {"queue_ns", s.queue_ns()},
                         {"compute_ns", s.compute_ns()},
                         {"total_ns", s.total_ns()},
                         {"batch_size_counts", histogram}});
    }
    models.push_back(
        {{"name", m.model().name()}, {"version", m.model().version()}, {"methods", methods}});
  }
  if (g.json) {
    std::cout << json{{"models", models}}.dump(2) << "\n";
    return 0;
  }
  PrintTable(stdout,
             {"MODEL", "VERSION", "METHOD", "OK", "FAILED", "QUEUE ms", "COMPUTE ms", "TOTAL ms",
              "BATCH SIZES"},
             rows);
  std::printf("(times are means per request; BATCH SIZES: size:executions)\n");
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
      layers.push_back(
          {{"path", l.path()},
           {"type", l.type()},
           {"output_shape", std::vector<int64_t>(l.output_shape().begin(), l.output_shape().end())},
           {"cam_target", l.cam_target()}});
    }
    std::cout << json{{"model", {{"name", r.model().name()}, {"version", r.model().version()}}},
                      {"input_shape",
                       std::vector<int64_t>(r.input_shape().begin(), r.input_shape().end())},
                      {"num_classes", r.num_classes()},
                      {"labels", std::vector<std::string>(r.labels().begin(), r.labels().end())},
                      {"default_cam_layer", r.default_cam_layer()},
                      {"default_path_layers",
                       std::vector<std::string>(r.default_path_layers().begin(),
                                                r.default_path_layers().end())},
                      {"layers", layers}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::string labels;
  for (const auto& l : r.labels()) labels += (labels.empty() ? "" : ", ") + l;
  std::string path_layers;
  for (const auto& l : r.default_path_layers())
    path_layers += (path_layers.empty() ? "" : ", ") + l;
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
      results.push_back(
          {{"image", path},
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

// The --method names: CamMethod's enum names in lower case, read from the proto so that a
// method added there is accepted here, and "gradcam++", the name Grad-CAM++'s paper gives it.
std::vector<std::pair<std::string, xai::v1::CamMethod>> CamMethodNames() {
  const google::protobuf::EnumDescriptor* methods = xai::v1::CamMethod_descriptor();
  std::vector<std::pair<std::string, xai::v1::CamMethod>> out;
  for (int i = 0; i < methods->value_count(); ++i) {
    const auto method = static_cast<xai::v1::CamMethod>(methods->value(i)->number());
    if (method == xai::v1::CAM_METHOD_UNSPECIFIED) continue;
    std::string name = methods->value(i)->name();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.emplace_back(name, method);
    if (method == xai::v1::GRAD_CAM_PLUS_PLUS) out.emplace_back("gradcam++", method);
  }
  return out;
}

struct GradCamOptions {
  std::vector<std::string> layers;
  std::vector<int> targets;
  std::string method = "grad_cam";  // one of CamMethodNames(), as CLI11 normalised it
  bool no_overlay = false;
  float image_weight = 0.5f;
  std::string colormap = "jet";
  bool overlay_at_input = false;
  int png_compression = 1;
  std::string out_dir = ".";
};

// File name prefixes, one per image: the image's stem, with _2, _3, ... for a stem already
// taken, so that cat.jpg and other/cat.png do not overwrite each other's maps. Targets are
// numbers, so "<prefix>_<target>_cam.npy" cannot collide across prefixes either.
std::vector<std::string> OutputPrefixes(const std::vector<std::string>& images) {
  std::set<std::string> taken;
  std::vector<std::string> out;
  for (const std::string& image : images) {
    const std::string stem = std::filesystem::path(image).stem().string();
    std::string prefix = stem;
    for (int n = 2; taken.count(prefix); ++n) prefix = stem + "_" + std::to_string(n);
    taken.insert(prefix);
    out.push_back(prefix);
  }
  return out;
}

// (x, y) of the first maximum, in row-major order, of a [H,W] float32 tensor.
bool CamPeak(const xai::v1::Tensor& cam, int64_t* x, int64_t* y, std::string* error) {
  const std::string& data = cam.data();
  const uint64_t floats = data.size() / sizeof(float);
  // Bounding each side by the data's size first keeps their product from overflowing.
  if (cam.shape_size() != 2 || cam.shape(0) <= 0 || cam.shape(1) <= 0 ||
      static_cast<uint64_t>(cam.shape(0)) > floats ||
      static_cast<uint64_t>(cam.shape(1)) > floats ||
      static_cast<uint64_t>(cam.shape(0) * cam.shape(1)) * sizeof(float) != data.size()) {
    *error = "the server sent a cam of shape " + Shape(cam.shape()) + " with " +
             std::to_string(data.size()) + " bytes, not [H,W] float32";
    return false;
  }
  uint64_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (uint64_t i = 0; i < floats; ++i) {
    // The wire's floats are little-endian whatever the host's byte order.
    const auto* b = reinterpret_cast<const unsigned char*>(data.data()) + i * sizeof(float);
    const uint32_t bits = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    if (value > best_value) {
      best_value = value;
      best = i;
    }
  }
  *x = static_cast<int64_t>(best % cam.shape(1));
  *y = static_cast<int64_t>(best / cam.shape(1));
  return true;
}

// One explanation's files and CAM peak, as the summary shows them.
struct WrittenExplanation {
  int target = 0;
  std::string cam, raw, overlay;  // paths; overlay "" when the server sent no PNG
  int64_t peak_x = 0, peak_y = 0;
};

// Writes the files of every explanation of `response`, named from `prefix` in `out_dir`.
bool WriteExplanations(const xai::v1::GradCAMResponse& response, const std::string& out_dir,
                       const std::string& prefix, std::vector<WrittenExplanation>* written,
                       std::string* error) {
  for (const auto& e : response.explanations()) {
    WrittenExplanation w;
    w.target = e.target_class();
    if (!CamPeak(e.cam(), &w.peak_x, &w.peak_y, error)) return false;
    const std::string base = prefix + "_" + std::to_string(e.target_class());
    auto file = [&](const std::string& suffix) {
      return (std::filesystem::path(out_dir) / (base + suffix)).lexically_normal().string();
    };
    w.cam = file("_cam.npy");
    w.raw = file("_raw.npy");
    if (!xai::client::WriteNpyFloat32(w.cam, {e.cam().shape().begin(), e.cam().shape().end()},
                                      e.cam().data(), error) ||
        !xai::client::WriteNpyFloat32(w.raw, {e.raw().shape().begin(), e.raw().shape().end()},
                                      e.raw().data(), error)) {
      return false;
    }
    if (!e.overlay_png().empty()) {
      w.overlay = file("_overlay.png");
      if (!WriteFile(w.overlay, e.overlay_png(), error)) return false;
    }
    written->push_back(std::move(w));
  }
  return true;
}

int RunGradCam(const GlobalOptions& g, const std::string& model, int64_t version,
               const std::vector<std::string>& images, const GradCamOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    std::cerr << "xai gradcam: cannot create " << options.out_dir << ": " << ec.message() << "\n";
    return kExitFailure;
  }
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  for (const std::string& layer : options.layers) request.add_layers(layer);
  for (const int target : options.targets) request.add_target_classes(target);
  for (const auto& [name, method] : CamMethodNames()) {
    if (name == options.method) request.set_method(method);
  }
  if (!options.no_overlay) {
    request.mutable_overlay()->set_enabled(true);
    // The wire reads an image_weight of 0 as "default" (0.5); the smallest normal float
    // (not a denormal, which flush-to-zero would read as 0) blends as 0 does, so
    // --image-weight 0 still means the heatmap alone.
    request.mutable_overlay()->set_image_weight(
        options.image_weight > 0 ? options.image_weight : std::numeric_limits<float>::min());
    request.mutable_overlay()->set_colormap(options.colormap);
    request.mutable_overlay()->set_model_input_size(options.overlay_at_input);
    request.mutable_overlay()->set_png_compression(options.png_compression);
  }

  auto stub = Connect(g);
  const std::vector<std::string> prefixes = OutputPrefixes(images);
  int failures = 0;
  json results = json::array();
  xai::client::ProgressBar progress("gradcam", static_cast<int>(images.size()));
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string& path = images[i];
    auto fail = [&](const std::string& error) {
      ++failures;
      std::cerr << "xai gradcam: " << path << ": " << error << "\n";
      if (g.json) results.push_back({{"image", path}, {"error", error}});
    };
    std::string error;
    if (!ReadFile(path, request.mutable_image()->mutable_encoded(), &error)) {
      progress.Step(path);
      fail(error);
      continue;
    }
    grpc::ClientContext context;
    SetDeadline(&context, g);
    xai::v1::GradCAMResponse response;
    const grpc::Status status = stub->GradCAM(&context, request, &response);
    progress.Step(path);
    if (!status.ok()) {
      fail(Describe(status, g));
      continue;
    }
    std::vector<WrittenExplanation> written;
    if (!WriteExplanations(response, options.out_dir, prefixes[i], &written, &error)) {
      fail(error);
      continue;
    }

    if (g.json) {
      json explanations = json::array();
      for (const auto& w : written) {
        explanations.push_back({{"target_class", w.target},
                                {"cam", w.cam},
                                {"raw", w.raw},
                                {"overlay", w.overlay.empty() ? json(nullptr) : json(w.overlay)},
                                {"cam_peak", {w.peak_x, w.peak_y}}});
      }
      results.push_back(
          {{"image", path},
           {"model", {{"name", response.model().name()}, {"version", response.model().version()}}},
           {"classes", ClassesJson(response.classes())},
           {"explanations", explanations}});
      continue;
    }
    std::string top;
    if (!response.classes().empty()) {
      const auto& c = response.classes(0);
      top = "; top class " + std::to_string(c.index()) +
            (c.label().empty() ? "" : " " + c.label()) + ", " + FormatFloat(c.probability(), 4);
    }
    std::printf("%s  (model %s v%lld%s)\n", path.c_str(), response.model().name().c_str(),
                static_cast<long long>(response.model().version()), top.c_str());
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : written) {
      // The response lists only the top classes; a target outside them has no score here.
      std::string label = "-", probability = "-";
      for (const auto& c : response.classes()) {
        if (c.index() == w.target) {
          label = c.label();
          probability = FormatFloat(c.probability(), 4);
        }
      }
      rows.push_back({"  " + std::to_string(w.target), label, probability,
                      "(" + std::to_string(w.peak_x) + ", " + std::to_string(w.peak_y) + ")",
                      w.cam + " " + w.raw + (w.overlay.empty() ? "" : " " + w.overlay)});
    }
    PrintTable(stdout, {"  TARGET", "LABEL", "PROBABILITY", "CAM PEAK", "FILES"}, rows);
    std::printf("\n");
  }
  if (g.json) std::cout << json{{"results", results}}.dump(2) << "\n";
  return failures == 0 ? 0 : kExitFailure;
}

struct PathOptions {
  int target = -1;
  std::vector<std::string> layers;
  float threshold = 0.5f;
  int max_channels = 16;
  int top_chains = 3;
  std::string out_dir = ".";
};

// The DecisionPath settings `xai path` and `xai profile-paths` share.
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

// The path of `response` as JSON: what the diagram shows, in numbers.
json PathJson(const xai::v1::DecisionPathResponse& response) {
  json nodes = json::array(), edges = json::array(), chains = json::array();
  for (const auto& n : response.nodes()) {
    nodes.push_back({{"layer", response.layers(n.layer())},
                     {"channel", n.channel()},
                     {"relevance", n.relevance()},
                     {"share", n.share()}});
  }
  for (const auto& e : response.edges()) {
    edges.push_back({{"from_layer", response.layers(e.layer())},
                     {"from_channel", e.from_channel()},
                     {"to_layer", response.layers(e.layer() + 1)},
                     {"to_channel", e.to_channel()},
                     {"weight", e.weight()}});
  }
  for (const auto& c : response.chains()) {
    chains.push_back({{"channels", std::vector<int>(c.channels().begin(), c.channels().end())},
                      {"log_score", c.log_score()}});
  }
  return {{"model", {{"name", response.model().name()}, {"version", response.model().version()}}},
          {"target_class", response.target_class()},
          {"classes", ClassesJson(response.classes())},
          {"layers", std::vector<std::string>(response.layers().begin(), response.layers().end())},
          {"nodes", nodes},
          {"edges", edges},
          {"chains", chains},
          {"profile_similarity", std::vector<float>(response.profile_similarity().begin(),
                                                    response.profile_similarity().end())},
          {"profile_similarity_mean", response.profile_similarity().empty()
                                          ? json(nullptr)
                                          : json(response.profile_similarity_mean())}};
}

int RunPath(const GlobalOptions& g, const std::string& model, int64_t version,
            const std::string& image, const PathOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    std::cerr << "xai path: cannot create " << options.out_dir << ": " << ec.message() << "\n";
    return kExitFailure;
  }
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  request.set_target_class(options.target);
  for (const std::string& layer : options.layers) request.add_layers(layer);
  request.set_threshold(options.threshold);
  request.set_max_channels(options.max_channels);
  request.set_top_chains(options.top_chains);
  request.set_render(true);
  std::string error;
  if (!ReadFile(image, request.mutable_image()->mutable_encoded(), &error)) {
    std::cerr << "xai path: " << image << ": " << error << "\n";
    return kExitFailure;
  }
  grpc::ClientContext context;
  SetDeadline(&context, g);
  xai::v1::DecisionPathResponse response;
  const grpc::Status status = Connect(g)->DecisionPath(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "xai path: " << image << ": " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  const std::string stem = std::filesystem::path(image).stem().string();
  const std::string png =
      (std::filesystem::path(options.out_dir) / (stem + "_path.png")).lexically_normal().string();
  const std::string json_file =
      (std::filesystem::path(options.out_dir) / (stem + "_path.json")).lexically_normal().string();
  const json path = PathJson(response);
  if (!WriteFile(png, response.diagram_png(), &error) ||
      !WriteFile(json_file, path.dump(2) + "\n", &error)) {
    std::cerr << "xai path: " << error << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json out = path;
    out["image"] = image;
    out["diagram"] = png;
    out["file"] = json_file;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::string label;
  for (const auto& c : response.classes()) {
    if (c.index() == response.target_class() && !c.label().empty()) label = " " + c.label();
  }
  std::printf("%s  (model %s v%lld), target class %d%s\n", image.c_str(),
              response.model().name().c_str(), static_cast<long long>(response.model().version()),
              response.target_class(), label.c_str());
  std::string layers;
  for (const auto& layer : response.layers()) layers += (layers.empty() ? "" : " -> ") + layer;
  std::printf("  layers: %s\n", layers.c_str());
  std::vector<std::vector<std::string>> rows;
  for (int r = 0; r < response.chains_size(); ++r) {
    std::string channels;
    for (int c : response.chains(r).channels())
      channels += (channels.empty() ? "" : " -> ") + std::to_string(c);
    rows.push_back(
        {"  " + std::to_string(r + 1), channels, FormatFloat(response.chains(r).log_score(), 4)});
  }
  PrintTable(stdout, {"  CHAIN", "CHANNELS", "LOG SCORE"}, rows);
  if (!response.profile_similarity().empty()) {
    std::string per_layer;
    for (float s : response.profile_similarity()) per_layer += " " + FormatFloat(s, 2);
    std::printf("  similarity to the class's usual path: %s (per layer:%s)\n",
                FormatFloat(response.profile_similarity_mean(), 2).c_str(), per_layer.c_str());
  }
  std::printf("  %d critical channels, %d edges; diagram %s, path %s\n", response.nodes_size(),
              response.edges_size(), png.c_str(), json_file.c_str());
  return 0;
}

// The image files directly in `dir`, sorted, by extension.
std::vector<std::string> ImagesIn(const std::string& dir) {
  static const std::set<std::string> kExtensions = {
      ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pnm", ".ppm", ".pgm", ".pbm"};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (entry.is_regular_file() && kExtensions.count(ext)) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int RunProfilePaths(const GlobalOptions& g, const std::string& model, int64_t version,
                    const std::string& dir, const PathOptions& options,
                    const std::string& out_file) {
  const std::vector<std::string> images = ImagesIn(dir);
  if (images.empty()) {
    std::cerr << "xai profile-paths: no image files in " << dir << "\n";
    return kExitFailure;
  }
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  request.set_target_class(-1);  // the class the model decided
  for (const std::string& layer : options.layers) request.add_layers(layer);
  request.set_threshold(options.threshold);
  request.set_max_channels(options.max_channels);
  auto stub = Connect(g);
  std::unique_ptr<xai::core::PathProfileBuilder> builder;
  std::map<int, std::string> labels;
  int failures = 0;
  {
    xai::client::ProgressBar progress("profile-paths", static_cast<int>(images.size()));
    for (const std::string& path : images) {
      std::string error;
      grpc::ClientContext context;
      SetDeadline(&context, g);
      xai::v1::DecisionPathResponse response;
      grpc::Status status;
      if (ReadFile(path, request.mutable_image()->mutable_encoded(), &error)) {
        status = stub->DecisionPath(&context, request, &response);
        if (!status.ok()) error = Describe(status, g);
      }
      progress.Step(path);
      if (!error.empty()) {
        ++failures;
        std::cerr << "xai profile-paths: " << path << ": " << error << "\n";
        continue;
      }
      if (!builder) {
        builder = std::make_unique<xai::core::PathProfileBuilder>(
            std::vector<std::string>(response.layers().begin(), response.layers().end()),
            options.threshold, options.max_channels);
      }
      std::vector<std::vector<int>> sets(response.layers_size());
      for (const auto& node : response.nodes()) sets[node.layer()].push_back(node.channel());
      if (const auto added = builder->Add(response.target_class(), sets); !added.ok()) {
        ++failures;
        std::cerr << "xai profile-paths: " << path << ": " << added.message() << "\n";
        continue;
      }
      for (const auto& c : response.classes()) labels[c.index()] = c.label();
    }
  }
  if (!builder) {
    std::cerr << "xai profile-paths: no image could be explained\n";
    return kExitFailure;
  }
  const xai::v1::PathProfile profile = builder->Build();
  if (const auto written = xai::core::WritePathProfile(profile, out_file); !written.ok()) {
    std::cerr << "xai profile-paths: " << written.message() << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json classes = json::array();
    for (const auto& c : profile.classes()) {
      classes.push_back({{"class_index", c.class_index()},
                         {"label", labels[c.class_index()]},
                         {"images", c.images()}});
    }
    std::cout << json{{"file", out_file},
                      {"images", images.size() - failures},
                      {"failed", failures},
                      {"layers",
                       std::vector<std::string>(profile.layers().begin(), profile.layers().end())},
                      {"classes", classes}}
                     .dump(2)
              << "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : profile.classes()) {
      rows.push_back({"  " + std::to_string(c.class_index()), labels[c.class_index()],
                      std::to_string(c.images())});
    }
    PrintTable(stdout, {"  CLASS", "LABEL", "IMAGES"}, rows);
    std::printf("  %zu images profiled, %d failed; written to %s\n", images.size() - failures,
                failures, out_file.c_str());
    std::printf("  copy it to <repository>/%s/<version>/%s and reload the server to use it\n",
                model.c_str(), xai::core::kPathProfileFile);
  }
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions g;
  const char* env_server = std::getenv("XAI_SERVER");
  g.server = env_server != nullptr ? env_server : "localhost:50051";

  CLI::App app{
      "xai: explain image classifiers served by xai-server.\n"
      "Exit status: 0 success, 1 a call or file failed (the server's message is printed)."};
  app.require_subcommand(1);
  app.add_option("--server", g.server, "xai-server address host:port (env XAI_SERVER)")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds, "Deadline of each call, in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", g.json, "Print JSON for machines instead of tables");

  auto* models = app.add_subcommand("models", "List every model version and its state");

  std::string stats_model;
  int64_t stats_version = 0;
  auto* stats = app.add_subcommand(
      "stats",
      "Requests served per model version and method: counts, mean queue/compute/total time, "
      "batches run by size");
  stats->add_option("MODEL", stats_model, "Model name (none: every ready model)");
  stats->add_option("--version", stats_version, "Model version (0: every ready version)")
      ->capture_default_str();

  std::string model;
  int64_t version = 0;
  auto* describe = app.add_subcommand("describe", "Input, labels and layers of a model");
  describe->add_option("MODEL", model, "Model name")->required();
  describe->add_option("--version", version, "Model version (0: newest ready)")
      ->capture_default_str();

  std::vector<std::string> images;
  int top_k = 5;
  auto* classify = app.add_subcommand("classify", "Class probabilities of images");
  classify->add_option("MODEL", model, "Model name")->required();
  classify->add_option("IMAGE", images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  classify->add_option("--version", version, "Model version (0: newest ready)")
      ->capture_default_str();
  classify->add_option("-k,--top-k", top_k, "Classes to print per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));

  GradCamOptions cam;
  auto* gradcam = app.add_subcommand(
      "gradcam", "Class activation maps of images, written as .npy maps and overlay PNGs");
  gradcam->add_option("MODEL", model, "Model name")->required();
  gradcam->add_option("IMAGE", images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  gradcam->add_option("--version", version, "Model version (0: newest ready)")
      ->capture_default_str();
  // One value per flag, so that images after `--layer L` are not taken for layers.
  gradcam
      ->add_option("--layer", cam.layers,
                   "Module path as `xai describe` lists it; repeat to average several maps; "
                   "none: the model's default CAM layer")
      ->allow_extra_args(false);
  gradcam
      ->add_option("--target", cam.targets,
                   "Class index to explain; repeat for several; none: the top-1 class")
      ->allow_extra_args(false);
  gradcam->add_option("--method", cam.method, "CAM method, case-insensitive")
      ->capture_default_str()
      ->transform(CLI::IsMember(CamMethodNames(), CLI::ignore_case));
  auto* no_overlay = gradcam->add_flag("--no-overlay", cam.no_overlay, "Write no overlay PNG");
  gradcam
      ->add_option("--image-weight", cam.image_weight,
                   "Weight of the image in the overlay: 0 heatmap only, 1 image only")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f))
      ->excludes(no_overlay);
  gradcam
      ->add_option("--colormap", cam.colormap,
                   "OpenCV colormap of the overlay: jet, turbo, viridis, inferno, magma, plasma, "
                   "cividis, hot, bone, ... (the server checks the name)")
      ->capture_default_str()
      ->excludes(no_overlay);
  gradcam
      ->add_flag("--overlay-at-input", cam.overlay_at_input,
                 "Draw the overlay over the model's input (after resize and crop) instead of the "
                 "original image")
      ->excludes(no_overlay);
  gradcam->add_option("--png-compression", cam.png_compression, "zlib level of the overlay PNG")
      ->capture_default_str()
      ->check(CLI::Range(1, 9))
      ->excludes(no_overlay);
  gradcam->add_option("--out", cam.out_dir, "Directory for the files, made if missing")
      ->capture_default_str();
  gradcam->footer(
      "For image DIR/NAME.EXT and each target T, --out gets:\n"
      "  NAME_T_cam.npy      float32 [H,W] in [0,1]: the map at the model input's size\n"
      "  NAME_T_raw.npy      float32 [h,w]: the first layer's map after ReLU, before normalising\n"
      "  NAME_T_overlay.png  the map as a heatmap over the image (not with --no-overlay)\n"
      "numpy.load reads the .npy files. Images with the same NAME get NAME_2, NAME_3, ...\n"
      "The summary's CAM PEAK is the (x, y) of the map's maximum, in model input pixels.\n");

  PathOptions path;
  std::string path_image;
  auto* path_command = app.add_subcommand(
      "path",
      "The chain of channels that carried a decision: a diagram PNG and a JSON (DecisionPath)");
  path_command->add_option("MODEL", model, "Model name")->required();
  path_command->add_option("IMAGE", path_image, "Image file (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  path_command->add_option("--version", version, "Model version (0: newest ready)")
      ->capture_default_str();
  path_command->add_option("--target", path.target, "Class index to explain (-1: the top-1 class)")
      ->capture_default_str()
      ->check(CLI::Range(-1, 1 << 30));
  AddPathOptions(path_command, &path);
  path_command->add_option("--top-chains", path.top_chains, "Chains to return, best first")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  path_command->add_option("--out", path.out_dir, "Directory for the files, made if missing")
      ->capture_default_str();
  path_command->footer(
      "For image DIR/NAME.EXT, --out gets:\n"
      "  NAME_path.png   layers as columns, each critical channel as a tile of its activation over "
      "the\n"
      "                  image, edges as wide as their weight, the best chain in red, the class at "
      "the end\n"
      "  NAME_path.json  the layers, nodes (channel, relevance, share), edges (weight) and "
      "chains\n");

  PathOptions profile_options;
  std::string profile_dir;
  std::string profile_out = xai::core::kPathProfileFile;
  auto* profile_command =
      app.add_subcommand("profile-paths",
                         "The class path library: how often each channel is critical per class and "
                         "layer, over a folder of images");
  profile_command->add_option("MODEL", model, "Model name")->required();
  profile_command->add_option("DIR", profile_dir, "Folder of images (its files, not subfolders)")
      ->required()
      ->check(CLI::ExistingDirectory);
  profile_command->add_option("--version", version, "Model version (0: newest ready)")
      ->capture_default_str();
  AddPathOptions(profile_command, &profile_options);
  profile_command->add_option("--out", profile_out, "The library file to write")
      ->capture_default_str();
  profile_command->footer(
      "Each image is explained as the class the model decides. Put the file at\n"
      "<repository>/<model>/<version>/paths.pb: the server loads it with the model, and "
      "DecisionPath\n"
      "at the same layers then returns profile_similarity, per layer and mean: how usual the "
      "image's\n"
      "critical channels are for its class (weighted Jaccard, 0 to 1).\n");

  CLI11_PARSE(app, argc, argv);
  if (*profile_command)
    return RunProfilePaths(g, model, version, profile_dir, profile_options, profile_out);
  if (*path_command) return RunPath(g, model, version, path_image, path);
  if (*models) return RunModels(g);
  if (*stats) return RunStats(g, stats_model, stats_version);
  if (*describe) return RunDescribe(g, model, version);
  if (*classify) return RunClassify(g, model, version, images, top_k);
  if (*gradcam) return RunGradCam(g, model, version, images, cam);
  return 2;
}
