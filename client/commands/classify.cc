// xai classify: the class probabilities of images.
#include "client/commands/classify.h"

#include <cstdint>
#include <cstdio>
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
namespace {

using json = nlohmann::json;

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
    xai::core::StatusOr<std::string> bytes = xai::core::ReadFile(path);
    if (!bytes.ok()) {
      const std::string& error = bytes.status().message();
      ++failures;
      std::cerr << "xai classify: " << error << "\n";
      if (g.json) results.push_back({{"image", path}, {"error", error}});
      progress.Step(path);
      continue;
    }
    request.mutable_image()->set_encoded(std::move(*bytes));
    grpc::ClientContext context;
    PrepareCall(&context, g);
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
  if (g.json) std::cout << JsonText(json{{"results", results}}) << "\n";
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

void SetupClassify(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
    std::vector<std::string> images;
    int top_k = 5;
  };
  auto args = std::make_shared<Arguments>();
  auto* classify = app.add_subcommand("classify", "Class probabilities of images");
  classify->add_option("MODEL", args->model, "Model name")->required();
  classify->add_option("IMAGE", args->images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  classify->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  classify->add_option("-k,--top-k", args->top_k, "Classes to print per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  classify->callback([&global, args] {
    ExitWith(RunClassify(global, args->model, args->version, args->images, args->top_k));
  });
}

}  // namespace xai::client
