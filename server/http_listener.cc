#include "server/http_listener.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace xai::server {
namespace {

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

core::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(
    std::unique_ptr<httplib::Server> http, const std::string& address, const std::string& what,
    const std::string& example) {
  std::string host;
  int port = 0;
  if (!SplitAddress(address, &host, &port)) {
    return core::InvalidArgumentError(what + " address '" + address + "' is not host:port (e.g. " +
                                      example + ")");
  }
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on
  // the same port would start and share the requests instead of failing.
  http->set_socket_options([](auto socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  errno = 0;
  if (port == 0) {
    port = http->bind_to_any_port(host);
    if (port < 0) port = 0;
  } else if (!http->bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    const std::string reason = errno != 0 ? std::string(": ") + std::strerror(errno) : "";
    return core::UnavailableError("cannot listen for " + what + " on " + address + reason);
  }
  std::unique_ptr<HttpListener> listener(new HttpListener());
  listener->http_ = std::move(http);
  listener->port_ = port;
  HttpListener* raw = listener.get();
  listener->listener_ = std::thread([raw] {
    raw->http_->listen_after_bind();
    raw->listener_done_.store(true);
  });
  return listener;
}

HttpListener::~HttpListener() {
  if (!listener_.joinable()) return;
  // stop() only stops a server that is running: wait until it is (or has given up).
  while (!http_->is_running() && !listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  listener_.join();
}

}  // namespace xai::server
