// xai admin: load, unload and reload models (xai.v1.ModelAdmin), and list their load.
#include "client/commands/admin.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "xai/v1/model_admin.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;
using Stub = xai::v1::ModelAdmin::Stub;

// What a change prints: the model's versions after it, or why it failed (the versions
// that still serve are printed too).
template <typename Request, typename Response>
int RunChange(const GlobalOptions& g, const std::string& verb, const std::string& model,
              grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*)) {
  auto stub = xai::v1::ModelAdmin::NewStub(OpenChannel(g));
  grpc::ClientContext context;
  PrepareCall(&context, g);
  Request request;
  request.set_name(model);
  Response response;
  const grpc::Status status = ((*stub).*rpc)(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    std::cerr << "xai admin " << verb << ": " << Describe(status, g)
              << " (is xai-server running with --enable-admin?)\n";
    return kExitFailure;
  }
  if (!status.ok()) std::cerr << "xai admin " << verb << ": " << Describe(status, g) << "\n";
  if (g.json) {
    json versions = json::array();
    for (const auto& m : response.versions()) versions.push_back(ModelStatusJson(m));
    std::cout << JsonText(json{{"ok", status.ok()}, {"versions", versions}}) << "\n";
  } else if (response.versions_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : response.versions()) rows.push_back(ModelStatusRow(m));
    PrintTable(stdout, kModelStatusHeader, rows);
  }
  return status.ok() ? 0 : kExitFailure;
}

int RunList(const GlobalOptions& g) {
  auto stub = xai::v1::ModelAdmin::NewStub(OpenChannel(g));
  grpc::ClientContext context;
  PrepareCall(&context, g);
  xai::v1::AdminListModelsResponse response;
  const grpc::Status status = stub->ListModels(&context, {}, &response);
  if (!status.ok()) {
    std::cerr << "xai admin list: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  if (g.json) {
    json out = json::array();
    for (const auto& m : response.models()) {
      json row = ModelStatusJson(m.status());
      row["serves_default"] = m.serves_default();
      row["queued"] = m.queued();
      row["instances"] = m.instances();
      row["busy_instances"] = m.busy_instances();
      out.push_back(row);
    }
    std::cout << JsonText(json{{"models", out}}) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : response.models()) {
    std::vector<std::string> row = ModelStatusRow(m.status());
    row.insert(row.begin() + 3,
               {m.serves_default() ? "yes" : "", std::to_string(m.queued()),
                std::to_string(m.busy_instances()) + "/" + std::to_string(m.instances())});
    rows.push_back(row);
  }
  PrintTable(stdout,
             {"MODEL", "VERSION", "STATE", "DEFAULT", "QUEUED", "BUSY", "DEVICES", "REASON"}, rows);
  return 0;
}

}  // namespace

void SetupAdmin(CLI::App& app, const GlobalOptions& global) {
  auto* admin = app.add_subcommand(
      "admin",
      "Load, unload and reload models while the server serves (xai-server --enable-admin; "
      "with --auth-tokens, an admin token)");
  admin->require_subcommand(1);
  auto model = std::make_shared<std::string>();
  auto* load = admin->add_subcommand(
      "load", "Load the versions of MODEL found in the repository that are not READY");
  load->add_option("model", *model, "Model name")->required();
  load->callback(
      [&global, model] { ExitWith(RunChange(global, "load", *model, &Stub::LoadModel)); });
  auto* unload = admin->add_subcommand(
      "unload", "Take MODEL out of service once its calls in flight and queued are answered");
  unload->add_option("model", *model, "Model name")->required();
  unload->callback(
      [&global, model] { ExitWith(RunChange(global, "unload", *model, &Stub::UnloadModel)); });
  auto* reload = admin->add_subcommand(
      "reload",
      "Apply MODEL's files without failing a call: each version loaded anew beside the one "
      "serving, which serves until the new one is READY; a load that fails leaves it serving");
  reload->add_option("model", *model, "Model name")->required();
  reload->callback(
      [&global, model] { ExitWith(RunChange(global, "reload", *model, &Stub::ReloadModel)); });
  auto* list = admin->add_subcommand(
      "list", "Every version with its state, whether it serves version-0 calls, queue and load");
  list->callback([&global] { ExitWith(RunList(global)); });
}

}  // namespace xai::client
