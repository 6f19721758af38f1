#include "server/metrics_http.h"

namespace xai::server {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

MetricsHttpServer::MetricsHttpServer() = default;
MetricsHttpServer::~MetricsHttpServer() = default;

core::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    HttpServer::Options http, std::function<std::string()> page, Authorizer authorize) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->http_.Route(
      "GET", "/metrics", [page, authorize](const HttpRequest& request, HttpResponder respond) {
        HttpResponse response;
        if (authorize) {
          const core::Status allowed = authorize(request.header("Authorization"));
          if (!allowed.ok()) {
            response.set(401, allowed.message() + "\n", "text/plain");
            response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"xai-metrics\"");
            return respond(std::move(response));
          }
        }
        response.set(200, page(), kContentType);
        response.quiet = true;
        respond(std::move(response));
      });
  http.name = "metrics";
  http.example = "0.0.0.0:8002, [::]:8002";
  http.error_page = [](int status, const std::string& message) {
    HttpResponse response;
    response.set(status,
                 message +
                     (status == 404 ? ": no such page (metrics are at /metrics)" : std::string()) +
                     "\n",
                 "text/plain; charset=utf-8");
    return response;
  };
  XAI_RETURN_IF_ERROR(server->http_.Start(std::move(http)));
  return server;
}

}  // namespace xai::server
