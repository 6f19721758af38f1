// The REST/JSON gateway (--http-address): the Explainer RPCs over HTTP/1.1, each request's
// JSON body parsed as its proto message in protobuf's canonical JSON mapping (bytes as
// base64) and sent to this server's own gRPC service over an in-process channel, so that
// validation, limits, deadlines, tokens, metrics and access lines are the gRPC call's, with
// no second copy; the answer goes back in the same mapping. Routes:
//   POST /v1/models/{name}[/versions/{v}]:classify | :gradcam | :attribute | :decisionPath
//   GET  /v1/models                                  ListModels
//   GET  /v1/models/{name}[/versions/{v}]            DescribeModel
//   GET  /v1/models/{name}[/versions/{v}]/stats      ModelStatistics
//   GET  /v2/health/live, /v2/health/ready           200, or 503 when not ready
//   GET  /, /app.js, /style.css, /samples/...        the web page (Options.web_page)
// The path names the model (and version) and overrides the body's. Headers: Authorization
// and X-Request-Id are passed on; X-Request-Timeout (seconds) sets the call's deadline.
// Errors: {"code", "message", "request_id"} with the HTTP status of HttpStatusFor. With
// Options.tls, HTTPS only (and a client certificate with mutual TLS), as the gRPC port.
// Served by server/http_server.h: a handler starts its gRPC call and returns; the call's
// completion answers, so a call that waits for a model holds no I/O thread.
#ifndef XAI_SERVER_REST_GATEWAY_H_
#define XAI_SERVER_REST_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "core/base/status.h"
#include "server/http_server.h"
#include "server/tls.h"

namespace xai::server {

// The HTTP status for a gRPC status code: the one mapping the gateway uses.
int HttpStatusFor(grpc::StatusCode code);

class RestGateway {
 public:
  struct Options {
    // host:port (port 0 picks one), the port's limits (max_body_bytes: larger bodies 413)
    // and its hooks (metrics, access lines); name, example, tls and error_page are the
    // gateway's.
    HttpServer::Options http;
    bool web_page = true;  // the web page at / (server/web/) and the samples at /samples/
    // Set: HTTPS only, with the gRPC port's certificates (and client CA), reloaded with
    // them. Must outlive the gateway.
    const ServerTls* tls = nullptr;
    std::string gateway_secret;  // sent with every call (CallAccess::gateway_secret)
  };
  // Serves `options.address`, calling the Explainer service on `channel`. INVALID_ARGUMENT
  // for an address that is not host:port, UNAVAILABLE when it cannot be bound.
  static core::StatusOr<std::unique_ptr<RestGateway>> Start(const Options& options,
                                                            std::shared_ptr<grpc::Channel> channel);
  ~RestGateway();  // stops listening, waits for the requests in flight

  int port() const { return http_.port(); }
  int open_connections() const { return http_.open_connections(); }

 private:
  RestGateway() = default;
  HttpServer http_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_REST_GATEWAY_H_
