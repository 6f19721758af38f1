#include "server/metrics_http.h"

#include <httplib.h>

namespace xai::server {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

MetricsHttpServer::MetricsHttpServer() = default;
MetricsHttpServer::~MetricsHttpServer() = default;

core::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::function<std::string()> page, Authorizer authorize) {
  auto owned = std::make_unique<httplib::Server>();
  httplib::Server& http = *owned;
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(64 * 1024);
  http.Get("/metrics",
           [page, authorize](const httplib::Request& request, httplib::Response& response) {
             if (authorize) {
               const core::Status allowed = authorize(request.get_header_value("Authorization"));
               if (!allowed.ok()) {
                 response.status = 401;
                 response.set_header("WWW-Authenticate", "Bearer realm=\"xai-metrics\"");
                 response.set_content(allowed.message() + "\n", "text/plain");
                 return;
               }
             }
             response.set_content(page(), kContentType);
           });
  const auto not_allowed = [](const httplib::Request& request, httplib::Response& response) {
    response.status = 405;
    response.set_header("Allow", "GET, HEAD");
    response.set_content(request.method + " is not allowed on /metrics: use GET\n", "text/plain");
  };
  http.Post("/metrics", not_allowed);
  http.Put("/metrics", not_allowed);
  http.Patch("/metrics", not_allowed);
  http.Delete("/metrics", not_allowed);
  http.Options("/metrics", not_allowed);
  http.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404) {
      response.set_content(
          "no such page: " + request.path.substr(0, 64) + " (metrics are at /metrics)\n",
          "text/plain");
    }
  });
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  XAI_ASSIGN_OR_RETURN(server->listener_, HttpListener::Start(std::move(owned), address, "metrics",
                                                              "0.0.0.0:8002, [::]:8002"));
  return server;
}

}  // namespace xai::server
