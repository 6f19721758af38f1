// A cpp-httplib server bound to "host:port" and served on its own thread: what the metrics
// endpoint and the REST gateway share.
#ifndef XAI_SERVER_HTTP_LISTENER_H_
#define XAI_SERVER_HTTP_LISTENER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/base/status.h"

namespace httplib {
class Server;
}

namespace xai::server {

class HttpListener {
 public:
  // Binds `http` (its routes set) to `address` ("host:port", "[v6]:port"; port 0 picks a
  // free one) and serves it on a thread. INVALID_ARGUMENT for an address that is not
  // host:port (the message names `what` and shows `example`), UNAVAILABLE when it cannot
  // be bound, with the reason.
  static core::StatusOr<std::unique_ptr<HttpListener>> Start(std::unique_ptr<httplib::Server> http,
                                                             const std::string& address,
                                                             const std::string& what,
                                                             const std::string& example);
  ~HttpListener();  // stops listening, waits for the requests in flight

  int port() const { return port_; }

 private:
  HttpListener() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
};

}  // namespace xai::server

#endif  // XAI_SERVER_HTTP_LISTENER_H_
