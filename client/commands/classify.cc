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
  xai::v1::ClassifyRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  request.set_top_k(top_k);
  json results = json::array();
  const int failures = ForEachImage(
      g, "classify", images, &results, [&](size_t, const std::string& path, std::string bytes) {
        request.mutable_image()->set_encoded(std::move(bytes));
        grpc::ClientContext context;
        PrepareCall(&context, g);
        xai::v1::ClassifyResponse response;
        const grpc::Status status = stub->Classify(&context, request, &response);
        if (!status.ok()) return Describe(status, g);
        if (g.json) {
          results.push_back(
              {{"image", path},
               {"model",
                {{"name", response.model().name()}, {"version", response.model().version()}}},
               {"classes", ClassesJson(response.classes())}});
          return std::string();
        }
        std::printf("%s  (model %s v%lld)\n", path.c_str(), response.model().name().c_str(),
                    static_cast<long long>(response.model().version()));
        std::vector<std::vector<std::string>> rows;
        for (const auto& c : response.classes()) {
          rows.push_back({"  " + std::to_string(c.index()), c.label(),
                          FormatFloat(c.probability(), 4), FormatFloat(c.logit(), 3)});
        }
        PrintTable(stdout, {"  CLASS", "LABEL", "PROBABILITY", "LOGIT"}, rows);
        std::printf("\n");
        return std::string();
      });
  if (g.json) std::cout << JsonText(json{{"results", results}}) << "\n";
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

void AddTopKOption(CLI::App* command, int* top_k) {
  command->add_option("-k,--top-k", *top_k, "Classes to print per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
}

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
  AddTopKOption(classify, &args->top_k);
  classify->callback([&global, args] {
    ExitWith(RunClassify(global, args->model, args->version, args->images, args->top_k));
  });
}

}  // namespace xai::client
