// The xai-server process minus flag parsing: the core engine, the gRPC server with the
// Explainer service, health checking and reflection.
#ifndef XAI_SERVER_SERVER_H_
#define XAI_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/base/status.h"
#include "core/explainer.h"
#include "server/auth.h"
#include "server/explainer_service.h"
#include "server/health.h"
#include "server/lifecycle.h"
#include "server/metrics_http.h"
#include "server/model_admin_service.h"
#include "server/peer_limiter.h"
#include "server/rest_gateway.h"
#include "server/server_metrics.h"
#include "server/tls.h"

namespace xai::server {

struct ServerOptions {
  std::string address = "0.0.0.0:50051";     // host:port; port 0 picks a free one
  int max_request_bytes = 64 * 1024 * 1024;  // larger requests: RESOURCE_EXHAUSTED
  // Prometheus' /metrics over HTTP, host:port (port 0 picks one); empty: no metrics.
  std::string metrics_address = "0.0.0.0:8002";
  // The REST/JSON gateway and the web page (server/rest_gateway.h), host:port (port 0
  // picks one); empty: none. With `tls`, HTTPS only, with the same certificates.
  std::string http_address = "0.0.0.0:8000";
  bool web_page = true;  // the REST port also serves the web page at /
  // The REST port's I/O threads, deadlines, connection caps and compression
  // (server/http_server.h); its max_body_bytes is max_request_bytes. The metrics port
  // shares the deadlines and compression, with one thread and no per-client cap.
  HttpLimits http;
  bool access_log = true;  // one INFO line per answered call
  TlsOptions tls;          // cert and key set: the gRPC port speaks TLS only
  // With TLS: a second, plaintext port (host:port) answering grpc.health.v1 only, for
  // Kubernetes' gRPC probes, which cannot speak TLS. Empty: none.
  std::string health_address;
  // A token file (server/auth.h); set: every call but health needs a token.
  std::string auth_tokens_file;
  bool metrics_auth = false;  // /metrics needs a token too (needs auth_tokens_file)
  bool reflection = true;     // gRPC server reflection (the API's schema, no data)
  bool enable_admin = false;  // serve xai.v1.ModelAdmin (admin role with tokens)
  // Calls in flight per client host (address without port); more: RESOURCE_EXHAUSTED.
  // 0: no limit.
  int max_calls_per_peer = 1024;
  // Apply the repository's changes on disk this often (seconds; 0: never).
  int poll_repository_seconds = 0;
  // The explanation cache's bound (server/explanation_cache.h), bytes; 0: no cache.
  int64_t cache_bytes = 0;
  core::ExplainerOptions explainer;
};

class Server {
 public:
  // Starts the engine (models load in the background) and listens.
  // NOT_FOUND: no model repository there, or a TLS or token file that cannot be read;
  // UNAVAILABLE: cannot listen on the address or the metrics address; INVALID_ARGUMENT: a
  // metrics address that is not host:port, TLS files that do not fit together, a bad
  // token file, --metrics-auth without tokens.
  static core::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // Shutdown(0s grace)

  // The port listened on (the picked one when the address said 0).
  int port() const { return port_; }
  // The metrics endpoint's port; 0 when metrics are off.
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  // The REST gateway's port; 0 when there is none.
  int http_port() const { return rest_ ? rest_->port() : 0; }
  // Connections open on the REST port now.
  int http_open_connections() const { return rest_ ? rest_->open_connections() : 0; }
  // The plaintext health port; 0 when there is none.
  int health_port() const { return health_port_; }
  core::Explainer& explainer() { return *explainer_; }

  // Re-reads the TLS files and the token file (SIGHUP): new connections get the new
  // certificates, new calls the new tokens; open connections and calls in flight are
  // kept. A file that fails its checks leaves what it configures as it was; the first
  // error is returned. Every outcome is logged, or with `log_unchanged` false (periodic
  // re-reads) only changes and errors.
  core::Status Reload(bool log_unchanged = true);
  bool tls() const { return tls_ != nullptr; }

  // Reports NOT_SERVING on every health name but "liveness" and goes on answering calls,
  // until Shutdown: load balancers that watch health stop sending meanwhile.
  void Drain();

  // Stops accepting calls, lets calls in flight finish (cancelling what is still running
  // after `grace`), then stops the engine. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  Server() = default;

  std::unique_ptr<ServerTls> tls_;
  std::unique_ptr<PeerLimiter> peers_;  // null when there is no per-peer limit
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<HealthReporter> health_;  // before explainer_: its listener uses it
  std::unique_ptr<core::Explainer> explainer_;
  std::unique_ptr<ExplanationCache> cache_;  // null when --cache-bytes is 0
  std::unique_ptr<ServerMetrics>
      metrics_;  // reads explainer_ and cache_; null when metrics are off
  std::unique_ptr<ExplainerService> service_;
  // Admin calls and polling; null when neither is on. Before admin_: the service posts
  // to it.
  std::unique_ptr<LifecycleThread> lifecycle_;
  std::unique_ptr<ModelAdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;  // serves metrics_
  std::unique_ptr<RestGateway> rest_;                // calls server_ in process
  int port_ = 0;
  int health_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace xai::server

#endif  // XAI_SERVER_SERVER_H_
