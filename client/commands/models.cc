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

}  // namespace

void SetupModels(CLI::App& app, const GlobalOptions& global) {
  auto* models = app.add_subcommand("models", "List every model version and its state");
  models->callback([&global] { ExitWith(RunModels(global)); });
}

}  // namespace xai::client
