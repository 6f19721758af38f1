// The HTTP endpoint Prometheus scrapes: GET /metrics answers the page a function makes;
// other paths 404, other methods on /metrics 405; with an authorizer, a scrape without
// a token it accepts 401. Its own two threads, so a scrape never
// takes a gRPC thread and a slow scraper never holds a request.
#ifndef XAI_SERVER_METRICS_HTTP_H_
#define XAI_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/status.h"
#include "server/http_listener.h"

namespace xai::server {

class MetricsHttpServer {
 public:
  // Listens on `address` ("host:port", "[v6]:port"; port 0 picks a free one) and serves
  // `page()` at /metrics. INVALID_ARGUMENT for an address that is not host:port,
  // UNAVAILABLE when it cannot be bound (with the reason). `authorize`, when set, is given
  // each scrape's Authorization header and answers OK or why not.
  using Authorizer = std::function<core::Status(std::string_view authorization)>;
  static core::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  std::function<std::string()> page,
                                                                  Authorizer authorize = {});
  ~MetricsHttpServer();  // stops listening, waits for the scrape in flight

  int port() const { return listener_->port(); }

 private:
  MetricsHttpServer();
  std::unique_ptr<HttpListener> listener_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_METRICS_HTTP_H_
