// xai describe: the input, labels and layers of a model.
#include "client/commands/describe.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

// "TOKENS 1+14x14", "NHWC 7x7", "NCHW 7x7"; "ambiguous" where the layout must be declared.
std::string LayoutCell(const xai::v1::LayerInfo& l) {
  const std::string grid = std::to_string(l.grid_height()) + "x" + std::to_string(l.grid_width());
  switch (l.layout()) {
    case xai::v1::NCHW:
      return "NCHW " + grid;
    case xai::v1::NHWC:
      return "NHWC " + grid;
    case xai::v1::TOKENS:
      return "TOKENS " + std::to_string(l.prefix_tokens()) + "+" + grid;
    default:
      return l.layout_note().rfind("ambiguous", 0) == 0 ? "ambiguous" : "";
  }
}

int RunDescribe(const GlobalOptions& g, const std::string& model, int64_t version) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  PrepareCall(&context, g);
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
           {"cam_target", l.cam_target()},
           {"ablation_cam", l.ablation_cam()},
           {"layout", xai::v1::FeatureLayout_Name(l.layout())},
           {"prefix_tokens", l.prefix_tokens()},
           {"grid", {l.grid_height(), l.grid_width()}},
           {"layout_note", l.layout_note()}});
    }
    json methods = json::array();
    for (const auto& m : r.methods()) {
      methods.push_back({{"name", m.name()},
                         {"rpc", m.rpc()},
                         {"title", m.title()},
                         {"family", m.family()},
                         {"legend", m.legend()}});
    }
    std::cout << JsonText(json{
                     {"model", {{"name", r.model().name()}, {"version", r.model().version()}}},
                     {"input_shape",
                      std::vector<int64_t>(r.input_shape().begin(), r.input_shape().end())},
                     {"num_classes", r.num_classes()},
                     {"labels", std::vector<std::string>(r.labels().begin(), r.labels().end())},
                     {"default_cam_layer", r.default_cam_layer()},
                     {"default_path_layers",
                      std::vector<std::string>(r.default_path_layers().begin(),
                                               r.default_path_layers().end())},
                     {"recommended_cam_layer", r.recommended_cam_layer()},
                     {"default_cam_layer_problem", r.default_cam_layer_problem()},
                     {"default_path_layers_problem", r.default_path_layers_problem()},
                     {"output", r.output()},
                     {"inference_graph", r.inference_graph()},
                     {"methods", methods},
                     {"layers", layers}})
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
  std::printf("logits:              %s\n", r.output().c_str());
  std::printf("inference graph:     %s\n", r.inference_graph().c_str());
  std::printf("default CAM layer:   %s\n", r.default_cam_layer().empty()
                                               ? ("none: " + r.default_cam_layer_problem()).c_str()
                                               : r.default_cam_layer().c_str());
  if (!r.recommended_cam_layer().empty()) {
    std::printf("recommended layer:   %s  (transformer: the last block's first LayerNorm)\n",
                r.recommended_cam_layer().c_str());
  }
  std::printf("default path layers: %s\n",
              path_layers.empty() ? ("none: " + r.default_path_layers_problem()).c_str()
                                  : path_layers.c_str());
  // The served methods, as `xai gradcam --method` and `xai attribute --method` take them.
  for (const char* rpc : {"GradCAM", "Attribute"}) {
    std::string names;
    for (const auto& m : r.methods()) {
      if (m.rpc() != rpc) continue;
      names += (names.empty() ? "" : ", ") + LowerCase(m.name());
    }
    std::printf(
        "%-21s%s\n",
        rpc == std::string("GradCAM") ? "gradcam methods:" : "attribute methods:", names.c_str());
  }
  std::printf("\n");
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> ambiguous;
  for (const auto& l : r.layers()) {
    rows.push_back({l.path(), l.type(), l.output_shape().empty() ? "-" : Shape(l.output_shape()),
                    l.cam_target() ? "yes" : "", LayoutCell(l), l.ablation_cam()});
    if (l.layout_note().rfind("ambiguous", 0) == 0) {
      ambiguous.push_back(l.path() + ": " + l.layout_note());
    }
  }
  PrintTable(stdout, {"LAYER", "TYPE", "OUTPUT SHAPE", "CAM", "LAYOUT", "ABLATION_CAM"}, rows);
  if (!ambiguous.empty()) {
    std::printf("\nLayers that need a declared layout before CAM methods can read them:\n");
    for (const std::string& line : ambiguous) std::printf("  %s\n", line.c_str());
  }
  return 0;
}

}  // namespace

void SetupDescribe(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* describe = app.add_subcommand("describe", "Input, labels and layers of a model");
  describe->add_option("MODEL", args->model, "Model name")->required();
  describe->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  describe->callback(
      [&global, args] { ExitWith(RunDescribe(global, args->model, args->version)); });
}

}  // namespace xai::client
