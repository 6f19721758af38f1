// xai models: every model version the server knows and its state.
#include "client/commands/models.h"

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

int RunModels(const GlobalOptions& g) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  PrepareCall(&context, g);
  xai::v1::ListModelsResponse response;
  const grpc::Status status = stub->ListModels(&context, {}, &response);
  if (!status.ok()) {
    std::cerr << "xai models: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json out = json::array();
    for (const auto& m : response.models()) out.push_back(ModelStatusJson(m));
    std::cout << JsonText(json{{"models", out}}) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : response.models()) rows.push_back(ModelStatusRow(m));
  PrintTable(stdout, kModelStatusHeader, rows);
  return 0;
}

}  // namespace

void SetupModels(CLI::App& app, const GlobalOptions& global) {
  auto* models = app.add_subcommand("models", "List every model version and its state");
  models->callback([&global] { ExitWith(RunModels(global)); });
}

}  // namespace xai::client
