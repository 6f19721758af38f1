// The HTTP endpoint Prometheus scrapes: GET (and HEAD) /metrics answers the page a function
// makes; other paths 404, other methods on /metrics 405; with an authorizer, a scrape
// without a token it accepts 401. Its own event-driven server (server/http_server.h) and
// I/O thread, so a scrape never takes a gRPC thread and slow clients never hold a scrape.
#ifndef XAI_SERVER_METRICS_HTTP_H_
#define XAI_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "server/http_server.h"

namespace xai::server {

class MetricsHttpServer {
 public:
  // Listens on `http.address` ("host:port", "[v6]:port"; port 0 picks a free one) with
  // `http`'s limits and hooks, and serves `page()` at /metrics. INVALID_ARGUMENT for an
  // address that is not host:port, UNAVAILABLE when it cannot be bound (with the reason).
  // `authorize`, when set, is given each scrape's Authorization header and answers OK or
  // why not.
  using Authorizer = std::function<core::Status(std::string_view authorization)>;
  static core::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(HttpServer::Options http,
                                                                  std::function<std::string()> page,
                                                                  Authorizer authorize = {});
  ~MetricsHttpServer();  // stops listening, waits for the scrape in flight

  int port() const { return http_.port(); }

 private:
  MetricsHttpServer();
  HttpServer http_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_METRICS_HTTP_H_
