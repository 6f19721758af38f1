// xai health [MODEL]: whether the server, or one model, is SERVING (grpc.health.v1), for
// people and for container health checks.
#include "client/commands/health.h"

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/common.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;
using HealthResponse = grpc::health::v1::HealthCheckResponse;

// The health service name xai-server publishes for `model` ("" for the whole server).
std::string ServiceName(const std::string& model) {
  return model.empty() ? "xai.v1.Explainer" : "xai.v1.Explainer/" + model;
}

int RunHealth(const GlobalOptions& g, const std::string& model) {
  auto channel = OpenChannel(g);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  PrepareCall(&context, g);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(ServiceName(model));
  HealthResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  std::string state;
  std::string reason;
  if (status.ok()) {
    state = HealthResponse::ServingStatus_Name(response.status());
  } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    // The server publishes a name per model that has (or had) a version: this one never did.
    state = "SERVICE_UNKNOWN";
    reason = model.empty() ? "the server publishes no xai.v1.Explainer health"
                           : "the server knows no model \"" + model + "\" (see xai models)";
  } else {
    state = "UNREACHABLE";
    reason = Describe(status, g);
  }
  const bool serving = status.ok() && response.status() == HealthResponse::SERVING;
  if (g.json) {
    json out = {{"service", request.service()}, {"status", state}, {"serving", serving}};
    if (!reason.empty()) out["reason"] = reason;
    std::cout << JsonText(out) << "\n";
  } else if (serving) {
    std::cout << request.service() << ": SERVING\n";
  } else {
    std::cerr << "xai health: " << request.service() << ": " << state
              << (reason.empty() ? "" : " (" + reason + ")") << "\n";
  }
  return serving ? 0 : kExitFailure;
}

}  // namespace

void SetupHealth(CLI::App& app, const GlobalOptions& global) {
  auto* health = app.add_subcommand(
      "health",
      "Exit 0 when the server (or MODEL) is SERVING, 1 otherwise with a one-line reason "
      "(grpc.health.v1; e.g. a container HEALTHCHECK: xai --timeout 3 health)");
  auto model = std::make_shared<std::string>();
  health->add_option("model", *model, "Model name (default: the whole server)");
  health->callback([&global, model] { ExitWith(RunHealth(global, *model)); });
}

}  // namespace xai::client
