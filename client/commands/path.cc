// xai path: the chain of channels that carried a decision, as a diagram PNG and a JSON.
#include "client/commands/path.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "core/base/files.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
using json = nlohmann::json;

json PathJson(const xai::v1::DecisionPathResponse& response) {
  // A layer index the answer does not list (a server that disagrees with this CLI) is
  // written as its number, not read out of range.
  const auto layer = [&response](int index) -> json {
    if (index >= 0 && index < response.layers_size()) return response.layers(index);
    return "layer #" + std::to_string(index) + " (not in the answer's layers)";
  };
  json nodes = json::array(), edges = json::array(), chains = json::array();
  for (const auto& n : response.nodes()) {
    nodes.push_back({{"layer", layer(n.layer())},
                     {"channel", n.channel()},
                     {"relevance", n.relevance()},
                     {"share", n.share()}});
  }
  for (const auto& e : response.edges()) {
    edges.push_back({{"from_layer", layer(e.layer())},
                     {"from_channel", e.from_channel()},
                     {"to_layer", layer(e.layer() + 1)},
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

void FillPathRequest(const PathOptions& options, const std::vector<int>& targets,
                     xai::v1::DecisionPathRequest* request) {
  request->set_target_class(targets.empty() ? -1 : targets.front());
  for (const std::string& layer : options.layers) request->add_layers(layer);
  request->set_threshold(options.threshold);
  request->set_max_channels(options.max_channels);
  request->set_top_chains(options.top_chains);
  request->set_render(true);
}

std::vector<OutputFile> PathFiles(const xai::v1::DecisionPathResponse& response,
                                  const std::string& dir, const std::string& prefix) {
  const std::string base =
      ExplanationFileBase(dir, prefix, "decision_path", response.target_class());
  return {{base + ".png", response.diagram_png()},
          {base + ".json", JsonText(PathJson(response)) + "\n"}};
}

void AddPathCommandOptions(CLI::App* command, PathOptions* options) {
  AddTargetOption(command, &options->target, "none: the top-1 class");
  AddPathOptions(command, options);
  command->add_option("--top-chains", options->top_chains, "Chains to return, best first")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

namespace {

int RunPath(const GlobalOptions& g, const std::string& model, int64_t version,
            const std::string& image, const PathOptions& options) {
  if (!MakeOutDir("path", options.out_dir)) return kExitFailure;
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  std::vector<int> targets;
  if (!options.target.empty()) {
    if (const int code = ResolveTargets(g, "path", model, version, {options.target}, &targets)) {
      return code;
    }
  }
  FillPathRequest(options, targets, &request);
  xai::core::StatusOr<std::string> bytes = xai::core::ReadFile(image);
  if (!bytes.ok()) {
    std::cerr << "xai path: " << bytes.status().message() << "\n";  // names the file
    return kExitFailure;
  }
  request.mutable_image()->set_encoded(std::move(*bytes));
  grpc::ClientContext context;
  PrepareCall(&context, g);
  xai::v1::DecisionPathResponse response;
  const grpc::Status status = Connect(g)->DecisionPath(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "xai path: " << image << ": " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  const std::vector<OutputFile> files =
      PathFiles(response, options.out_dir, std::filesystem::path(image).stem().string());
  const std::string& png = files[0].path;
  const std::string& json_file = files[1].path;
  const json path = PathJson(response);
  if (std::string error; !WriteOutputFiles(files, &error)) {
    std::cerr << "xai path: " << error << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json out = path;
    out["image"] = image;
    out["diagram"] = png;
    out["file"] = json_file;
    std::cout << JsonText(out) << "\n";
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

}  // namespace

void SetupPath(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
    std::string image;
    PathOptions path;
  };
  auto args = std::make_shared<Arguments>();
  auto* path_command = app.add_subcommand(
      "path",
      "The chain of channels that carried a decision: a diagram PNG and a JSON (DecisionPath)");
  path_command->add_option("MODEL", args->model, "Model name")->required();
  path_command->add_option("IMAGE", args->image, "Image file (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  path_command->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  AddPathCommandOptions(path_command, &args->path);
  AddOutDirOption(path_command, &args->path.out_dir);
  path_command->footer(
      "For image DIR/NAME.EXT and the target T, --out gets:\n"
      "  NAME_decision_path_classT.png   layers as columns, each critical channel as a tile of\n"
      "                                  its activation over the image, edges as wide as their\n"
      "                                  weight, the best chain in red, the class at the end\n"
      "  NAME_decision_path_classT.json  the layers, nodes (channel, relevance, share), edges\n"
      "                                  (weight) and chains\n");
  path_command->callback([&global, args] {
    ExitWith(RunPath(global, args->model, args->version, args->image, args->path));
  });
}

}  // namespace xai::client
