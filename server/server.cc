#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "server/logging.h"

namespace xai::server {
namespace {

// An HTTP port's limits and hooks: its answers and connection events counted (metrics on)
// and its access lines written (access log on). `name`: the port's metrics label.
HttpServer::Options HttpPortOptions(const ServerOptions& options, ServerMetrics* metrics,
                                    const std::string& name) {
  HttpServer::Options port;
  port.limits = options.http;
  const bool access_log = options.access_log;
  port.on_exchange = [metrics, access_log, name](const HttpExchange& exchange) {
    if (metrics != nullptr) metrics->CountHttp(name, exchange);
    if (access_log) LogHttpAccess(exchange);
  };
  if (metrics != nullptr) {
    port.on_event = [metrics, name](HttpEvent event) { metrics->CountHttpEvent(name, event); };
  }
  return port;
}

}  // namespace

core::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  if (options.address.empty()) {
    return core::InvalidArgumentError(
        "--address is empty: the gRPC port is always served; give host:port (port 0: pick one)");
  }
  if (options.metrics_auth && options.auth_tokens_file.empty()) {
    return core::InvalidArgumentError("--metrics-auth needs --auth-tokens");
  }
  if (options.tls.enabled() || !options.tls.client_ca_file.empty()) {
    XAI_ASSIGN_OR_RETURN(server->tls_, ServerTls::Create(options.tls));
    const CertificateSummary served = server->tls_->served();
    spdlog::info("TLS{}: serving {} (not after {})",
                 server->tls_->mutual() ? " with client certificates required" : "", served.subject,
                 served.not_after);
  }
  if (!options.health_address.empty() && server->tls_ == nullptr) {
    return core::InvalidArgumentError(
        "--health-address is a plaintext health port beside a TLS --address; without TLS, "
        "probes ask --address");
  }
  if (!options.auth_tokens_file.empty()) {
    XAI_ASSIGN_OR_RETURN(server->auth_, Authenticator::Create(options.auth_tokens_file));
  }
  if (options.max_calls_per_peer > 0) {
    server->peers_ = std::make_unique<PeerLimiter>(options.max_calls_per_peer);
  }
  server->health_ = std::make_unique<HealthReporter>();
  HealthReporter* health = server->health_.get();
  XAI_ASSIGN_OR_RETURN(server->explainer_,
                       core::Explainer::Create(options.explainer, [health] { health->Update(); }));
  if (options.cache_bytes > 0) {
    server->cache_ = std::make_unique<ExplanationCache>(static_cast<size_t>(options.cache_bytes));
  }
  if (!options.metrics_address.empty()) {
    server->metrics_ =
        std::make_unique<ServerMetrics>(server->explainer_.get(), server->cache_.get());
    ServerMetrics* metrics = server->metrics_.get();
    MetricsHttpServer::Authorizer authorize;
    if (options.metrics_auth) {
      const Authenticator* auth = server->auth_.get();
      authorize = [auth](std::string_view authorization) {
        return auth->Check(authorization, Role::kExplain, "/metrics").status();
      };
    }
    HttpServer::Options port = HttpPortOptions(options, metrics, "metrics");
    port.address = options.metrics_address;
    port.limits.threads = 1;
    port.limits.max_connections_per_peer = 0;  // Prometheus and its replicas: few addresses
    port.limits.max_body_bytes = 64 * 1024;
    auto http = MetricsHttpServer::Start(
        std::move(port), [metrics] { return metrics->Page(); }, std::move(authorize));
    if (!http.ok()) {
      server->explainer_->Shutdown();
      return http.status();
    }
    server->metrics_http_ = std::move(*http);
  }
  // What every call of either service reports, and who may make it.
  const CallTelemetry telemetry{server->metrics_.get(), options.access_log};
  // The REST gateway's calls carry a secret of this process, never sent over a network.
  std::string gateway_secret;
  if (!options.http_address.empty()) {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return core::InternalError("no random bytes for the REST gateway's secret");
    }
    static const char kHex[] = "0123456789abcdef";
    for (const unsigned char byte : bytes) {
      gateway_secret += kHex[byte >> 4];
      gateway_secret += kHex[byte & 15];
    }
  }
  const CallAccess access{server->auth_.get(), !options.health_address.empty(),
                          server->peers_.get(), gateway_secret};
  server->service_ = std::make_unique<ExplainerService>(server->explainer_.get(), telemetry, access,
                                                        server->cache_.get());

  if (options.enable_admin || options.poll_repository_seconds > 0) {
    core::Explainer* explainer = server->explainer_.get();
    std::function<void()> poll;
    if (options.poll_repository_seconds > 0) {
      poll = [explainer] {
        if (!explainer->loaded()) return;
        const core::Status synced = explainer->SyncWithDisk();
        if (!synced.ok()) spdlog::error("model repository poll: {}", synced.message());
      };
    }
    server->lifecycle_ = std::make_unique<LifecycleThread>(
        std::move(poll), std::chrono::seconds(options.poll_repository_seconds));
  }
  if (options.enable_admin) {
    if (!server->auth_) {
      spdlog::warn(
          "ModelAdmin is on without --auth-tokens: any caller may load, unload and "
          "reload models");
    }
    server->admin_ = std::make_unique<ModelAdminService>(
        server->explainer_.get(), server->lifecycle_.get(), telemetry, access);
  }
  grpc::EnableDefaultHealthCheckService(true);
  // A process-wide registration, read when a builder is made: once on, it stays on for
  // later servers of the process (xai-server has one).
  static std::once_flag reflection_once;
  if (options.reflection) {
    std::call_once(reflection_once,
                   [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.address,
      server->tls_ ? server->tls_->credentials() : grpc::InsecureServerCredentials(),
      &server->port_);
  if (!options.health_address.empty()) {
    builder.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(),
                             &server->health_port_);
  }
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterService(server->service_.get());
  if (server->admin_) builder.RegisterService(server->admin_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0 ||
      (!options.health_address.empty() && server->health_port_ == 0)) {
    server->explainer_->Shutdown();
    return core::UnavailableError(
        "cannot listen on " + options.address +
        (options.health_address.empty() ? std::string() : " and " + options.health_address));
  }
  health->Attach(server->server_->GetHealthCheckService(), server->explainer_.get());
  if (!options.http_address.empty()) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(-1);
    arguments.SetMaxSendMessageSize(options.max_request_bytes);
    RestGateway::Options rest;
    rest.http = HttpPortOptions(options, server->metrics_.get(), "http");
    rest.http.address = options.http_address;
    rest.http.limits.max_body_bytes = static_cast<size_t>(options.max_request_bytes);
    rest.web_page = options.web_page;
    rest.tls = server->tls_.get();
    rest.gateway_secret = gateway_secret;
    auto gateway = RestGateway::Start(rest, server->server_->InProcessChannel(arguments));
    if (!gateway.ok()) {
      server->Shutdown(std::chrono::milliseconds(0));
      return gateway.status();
    }
    server->rest_ = std::move(*gateway);
  }
  return server;
}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

core::Status Server::Reload(bool log_unchanged) {
  core::Status first;
  bool changed = false;
  if (tls_) {
    auto served = tls_->Reload(&changed);
    if (!served.ok()) {
      spdlog::error("TLS files not reloaded, the previous certificates stay: {}",
                    served.status().message());
      first = served.status();
    } else if (changed || log_unchanged) {
      spdlog::info("TLS files re-read: serving {} (not after {})", served->subject,
                   served->not_after);
    }
  }
  if (auth_) {
    auto count = auth_->Reload(&changed);
    if (!count.ok()) {
      spdlog::error("token file not reloaded, the previous tokens stay: {}",
                    count.status().message());
      if (first.ok()) first = count.status();
    } else if (changed || log_unchanged) {
      spdlog::info("token file re-read: {} token(s)", *count);
    }
  }
  return first;
}

void Server::Drain() {
  if (health_) health_->Drain();
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (health_) health_->Shutdown();
  // REST requests in flight finish first: they are gRPC calls on this server.
  rest_.reset();
  // The change under way finishes; admin calls still queued are answered UNAVAILABLE.
  if (lifecycle_) lifecycle_->Stop();
  // Refuses new calls at once; waits for the calls in flight, which the engine's workers
  // finish, until the grace period ends (then cancels them).
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
  if (explainer_) explainer_->Shutdown();
  metrics_http_.reset();
}

}  // namespace xai::server
