// An event-driven HTTP/1.1 server (Boost.Beast on Asio): what the REST gateway and the
// metrics endpoint share. A few I/O threads serve every connection; a connection costs no
// thread while it waits, and a handler never blocks the I/O: it is given a responder that
// any thread may call later (the REST gateway answers from gRPC's completion threads).
//
// Slow or idle clients are bounded (HttpLimits): the request line and headers must arrive
// within header_timeout of their first byte (a TLS handshake within header_timeout of the
// connection), a body and an answer within header_timeout plus their size at
// min_bytes_per_second, a connection with no request under way is closed after
// idle_timeout, and connections beyond max_connections in all or max_connections_per_peer
// from one address are answered 503 and closed at once (over TLS: closed).
//
// Answers over compression_min_bytes whose type compresses (JSON, text, JavaScript, CSS,
// SVG; never PNG) are gzipped at level 1 when the client accepts gzip, and sent as they are
// when that saves less than 30% (JSON made mostly of base64 images or tensors: judged by a
// scan, not compressed). Each answered request is reported after its last byte is
// written (HttpExchange), so the time a slow client or the compression costs shows.
//
// Boost stays in http_server.cc: this header is light.
#ifndef XAI_SERVER_HTTP_SERVER_H_
#define XAI_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace xai::server {

struct HttpLimits {
  int threads = 2;                      // I/O threads
  int max_connections = 4096;           // open at once, all clients together
  int max_connections_per_peer = 1024;  // from one address; 0: no limit
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  double min_bytes_per_second = 64 * 1024;   // bodies' and answers' deadlines
  size_t max_body_bytes = 64 * 1024 * 1024;  // larger: 413
  size_t max_header_bytes = 64 * 1024;       // request line and headers; larger: 431
  bool compression = true;                   // gzip where it pays
  size_t compression_min_bytes = 1024;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... ("HEAD" is served by the GET route)
  std::string path;    // the target's path, percent-decoded
  std::string query;   // after '?', as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;  // the client's address as gRPC writes one: "ipv4:10.0.0.7:51234"
  std::vector<std::string> matches;  // the route pattern's captures ([0]: the whole path)

  // The first header of that name (case-insensitive); "" when there is none.
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // No access line when the answer is a success (health probes, scrapes, static files).
  bool quiet = false;

  void set(int http_status, std::string content, std::string type) {
    status = http_status;
    body = std::move(content);
    content_type = std::move(type);
  }
};

// Answers the request: call it once, from any thread. A responder dropped without being
// called answers 500 (a handler's bug never leaves a client waiting).
using HttpResponder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, HttpResponder)>;

// One answered request, reported after its last byte was written (or the write failed).
struct HttpExchange {
  std::string_view port;  // HttpServer::Options::name
  std::string method;
  std::string path;  // cut to 256 bytes
  int status = 0;
  std::string request_id;      // the answer's X-Request-Id, if it has one
  std::string peer;            // "ipv4:10.0.0.7:51234", "ipv6:[::1]:443"
  size_t request_bytes = 0;    // the body's
  size_t response_bytes = 0;   // the body's as sent (compressed)
  std::string_view encoding;   // "gzip" or "identity"
  double handler_seconds = 0;  // from the request's last byte to the handler's answer
  double total_seconds = 0;    // from the request's first byte to the answer's last
  bool written = true;         // false: the client went away or was too slow to read it
  bool quiet = false;          // HttpResponse::quiet
};

// What happens to connections, for metrics.
enum class HttpEvent {
  kOpened,
  kClosed,
  kRefusedTotal,   // over max_connections
  kRefusedPeer,    // over max_connections_per_peer
  kIdleTimeout,    // no request within idle_timeout
  kHeaderTimeout,  // headers (or the TLS handshake) not complete within header_timeout
  kBodyTimeout,    // the body not complete within its deadline
  kWriteTimeout,   // the answer not read within its deadline
};
std::string_view HttpEventName(HttpEvent event);

class HttpServer {
 public:
  struct Options {
    std::string name;     // in messages and HttpExchange::port: "HTTP", "metrics"
    std::string address;  // host:port, [v6]:port; port 0 picks a free one
    std::string example;  // an address shown when `address` is not one
    HttpLimits limits;
    // Set: HTTPS only, on an OpenSSL server context this sets up (certificates, client
    // verification; ServerTls::ConfigureHttps); false: the port cannot start.
    std::function<bool(ssl_ctx_st*)> tls;
    // The body of the server's own errors (400, 404, 405, 408, 413, 431, 500, 503), from
    // the status and a message saying why; default: the message as text/plain.
    std::function<HttpResponse(int status, const std::string& message)> error_page;
    std::function<void(const HttpExchange&)> on_exchange;  // any I/O thread
    std::function<void(HttpEvent)> on_event;               // any I/O thread
  };

  // Routes are matched in the order added: `pattern` (ECMAScript regex) must match the
  // whole path; a path that matches a route of another method is answered 405 with Allow.
  void Route(const std::string& method, const std::string& pattern, HttpHandler handler);

  // Binds and serves (call once, after the routes). INVALID_ARGUMENT for an address that is
  // not host:port (the message names Options::name and shows Options::example),
  // UNAVAILABLE when it cannot be bound, with the reason.
  core::Status Start(Options options);

  HttpServer();
  // Stops accepting, closes connections that wait for a request, lets answers in progress
  // finish (their handlers and their writes, which have deadlines), then stops the threads.
  ~HttpServer();

  int port() const;
  int open_connections() const;

  struct Impl;

 private:
  struct PendingRoute {
    std::string method;
    std::string pattern;
    HttpHandler handler;
  };
  std::vector<PendingRoute> routes_;  // until Start
  std::shared_ptr<Impl> impl_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_HTTP_SERVER_H_
