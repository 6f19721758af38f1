#include "server/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace xai::server {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// "host:port" or "[v6]:port" into host and port; false when it is neither.
bool SplitAddress(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.size() - colon - 1 > 5) {
    return false;
  }
  *host = address.substr(0, colon);
  if (host->front() == '[') {
    if (host->size() < 3 || host->back() != ']') return false;
    *host = host->substr(1, host->size() - 2);
  }
  int value = 0;
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return false;
  *port = value;
  return true;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer() : http_(std::make_unique<httplib::Server>()) {}

core::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::function<std::string()> page, Authorizer authorize) {
  std::string host;
  int port = 0;
  if (!SplitAddress(address, &host, &port)) {
    return core::InvalidArgumentError("metrics address '" + address +
                                      "' is not host:port (e.g. 0.0.0.0:8002, [::]:8002)");
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  httplib::Server& http = *server->http_;
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(64 * 1024);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on
  // the same port would start and share the scrapes instead of failing.
  http.set_socket_options([](auto socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
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
  errno = 0;
  if (port == 0) {
    port = http.bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!http.bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    const std::string reason = errno != 0 ? std::string(": ") + std::strerror(errno) : "";
    return core::UnavailableError("cannot listen for metrics on " + address + reason);
  }
  server->port_ = port;
  MetricsHttpServer* raw = server.get();
  server->listener_ = std::thread([raw] {
    raw->http_->listen_after_bind();
    raw->listener_done_.store(true);
  });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (!listener_.joinable()) return;
  // stop() only stops a server that is running: wait until it is (or has given up).
  while (!http_->is_running() && !listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  listener_.join();
}

}  // namespace xai::server
