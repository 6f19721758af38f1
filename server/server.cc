#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

namespace xai::server {

core::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  server->health_ = std::make_unique<HealthReporter>();
  HealthReporter* health = server->health_.get();
  XAI_ASSIGN_OR_RETURN(server->explainer_,
                       core::Explainer::Create(options.explainer, [health] { health->Update(); }));
  if (!options.metrics_address.empty()) {
    server->metrics_ = std::make_unique<ServerMetrics>(server->explainer_.get());
    ServerMetrics* metrics = server->metrics_.get();
    auto http =
        MetricsHttpServer::Start(options.metrics_address, [metrics] { return metrics->Page(); });
    if (!http.ok()) {
      server->explainer_->Shutdown();
      return http.status();
    }
    server->metrics_http_ = std::move(*http);
  }
  server->service_ = std::make_unique<ExplainerService>(
      server->explainer_.get(), CallTelemetry{server->metrics_.get(), options.access_log});

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->explainer_->Shutdown();
    return core::UnavailableError("cannot listen on " + options.address);
  }
  health->Attach(server->server_->GetHealthCheckService(), server->explainer_.get());
  return server;
}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

void Server::Drain() {
  if (health_) health_->Drain();
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (health_) health_->Shutdown();
  // Refuses new calls at once; waits for the calls in flight, which the engine's workers
  // finish, until the grace period ends (then cancels them).
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
  if (explainer_) explainer_->Shutdown();
  metrics_http_.reset();
}

}  // namespace xai::server
