// xai profile-paths: the class path library, built over a folder of images.
#include "client/commands/profile_paths.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "core/base/files.h"
#include "core/repository/path_profile.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

// The image files directly in `dir`, sorted, by extension.
std::vector<std::string> ImagesIn(const std::string& dir) {
  static const std::set<std::string> kExtensions = {
      ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pnm", ".ppm", ".pgm", ".pbm"};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = LowerCase(entry.path().extension().string());
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
      PrepareCall(&context, g);
      xai::v1::DecisionPathResponse response;
      grpc::Status status;
      if (xai::core::StatusOr<std::string> bytes = xai::core::ReadFile(path); !bytes.ok()) {
        error = bytes.status().message();  // names the file
      } else {
        request.mutable_image()->set_encoded(std::move(*bytes));
        status = stub->DecisionPath(&context, request, &response);
        if (!status.ok()) error = path + ": " + Describe(status, g);
      }
      progress.Step(path);
      if (!error.empty()) {
        ++failures;
        std::cerr << "xai profile-paths: " << error << "\n";
        continue;
      }
      if (!builder) {
        builder = std::make_unique<xai::core::PathProfileBuilder>(
            std::vector<std::string>(response.layers().begin(), response.layers().end()),
            options.threshold, options.max_channels);
      }
      std::vector<std::vector<int>> sets(response.layers_size());
      bool listed = true;  // every node's layer is one the answer lists
      for (const auto& node : response.nodes()) {
        if (node.layer() < 0 || node.layer() >= response.layers_size()) {
          listed = false;
          break;
        }
        sets[node.layer()].push_back(node.channel());
      }
      if (!listed) {
        ++failures;
        std::cerr << "xai profile-paths: " << path
                  << ": the server's answer names a layer it does not list\n";
        continue;
      }
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
    std::cout << JsonText(json{{"file", out_file},
                               {"images", images.size() - failures},
                               {"failed", failures},
                               {"layers", std::vector<std::string>(profile.layers().begin(),
                                                                   profile.layers().end())},
                               {"classes", classes}})
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

void SetupProfilePaths(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
    std::string dir;
    PathOptions options;
    std::string out_dir = ".";
    std::string out_file;  // "": <out_dir>/paths.pb
  };
  auto args = std::make_shared<Arguments>();
  auto* profile_command =
      app.add_subcommand("profile-paths",
                         "The class path library: how often each channel is critical per class and "
                         "layer, over a folder of images");
  profile_command->add_option("MODEL", args->model, "Model name")->required();
  profile_command->add_option("DIR", args->dir, "Folder of images (its files, not subfolders)")
      ->required()
      ->check(CLI::ExistingDirectory);
  profile_command->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  AddPathOptions(profile_command, &args->options);
  CLI::Option* out_dir = AddOutDirOption(profile_command, &args->out_dir, ".pb");
  AddOutFileOption(
      profile_command, &args->out_file, out_dir,
      std::string("The library file instead of --out's ") + xai::core::kPathProfileFile);
  profile_command->footer(
      "Each image is explained as the class the model decides. --out gets paths.pb: made\n"
      "in (or copied to) <repository>/<model>/<version>/, the server loads it with the model,\n"
      "and DecisionPath at the same layers then returns profile_similarity, per layer and\n"
      "mean: how usual the image's critical channels are for its class (weighted Jaccard, 0\n"
      "to 1).\n");
  profile_command->callback([&global, args] {
    std::string out = args->out_file;
    if (out.empty()) {
      if (!MakeOutDir("profile-paths", args->out_dir)) ExitWith(kExitFailure);
      out = (std::filesystem::path(args->out_dir) / xai::core::kPathProfileFile)
                .lexically_normal()
                .string();
    }
    ExitWith(RunProfilePaths(global, args->model, args->version, args->dir, args->options, out));
  });
}

}  // namespace xai::client
