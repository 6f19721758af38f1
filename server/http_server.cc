#include "server/http_server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "server/http_encoding.h"

namespace xai::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// The first read of a request: small, since an idle or stalled connection keeps its buffer
// (Beast's parser grows it as headers and bodies arrive).
constexpr size_t kReadChunk = 1024;
// What a closing connection's unread input is read into and dropped.
constexpr size_t kDrainChunk = 512;
// How long a closing connection's unread input is drained, so that the client reads the
// last answer (a 413 before its body, say) instead of a reset.
constexpr auto kLinger = std::chrono::seconds(2);

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

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
  } else if (host->find(':') != std::string::npos) {
    return false;  // a v6 address needs its brackets
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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; a '%' not followed by two hex digits stays as it is.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// A header value without the bytes that would end the header (CR, LF, NUL).
std::string HeaderSafe(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c != '\r' && c != '\n' && c != '\0') out += c;
  }
  return out;
}

// Whether a read ended because the client closed or reset the connection (or it was
// closed here): nothing to answer.
bool ClientGone(const beast::error_code& error) {
  return error == http::error::end_of_stream || error == net::error::eof ||
         error == net::error::operation_aborted || error == net::error::connection_reset;
}

std::string PeerText(const tcp::endpoint& endpoint) {
  const net::ip::address address = endpoint.address();
  return (address.is_v6() ? "ipv6:[" + address.to_string() + "]" : "ipv4:" + address.to_string()) +
         ":" + std::to_string(endpoint.port());
}

// Gzips `answer`'s body where that pays: `gzip` (the port compresses, the client takes it,
// not a HEAD), a text type, at least `min_bytes`, and 30% saved (base64 of images and
// binary tensors saves about 25% and costs the client its inflating too). Returns the
// encoding to send. Runs on the thread that answers, so no I/O thread spends the time.
std::string_view Encode(HttpResponse& answer, bool gzip, size_t min_bytes) {
  if (!gzip || answer.body.size() < min_bytes || !Compressible(answer.content_type)) {
    return "identity";
  }
  std::optional<std::string> gzipped = GzipIfWorthIt(answer.body, 0.7);
  if (!gzipped) return "identity";
  answer.body = std::move(*gzipped);
  return "gzip";
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return "";
}

std::string_view HttpEventName(HttpEvent event) {
  switch (event) {
    case HttpEvent::kOpened:
      return "opened";
    case HttpEvent::kClosed:
      return "closed";
    case HttpEvent::kRefusedTotal:
      return "refused_total";
    case HttpEvent::kRefusedPeer:
      return "refused_peer";
    case HttpEvent::kIdleTimeout:
      return "idle";
    case HttpEvent::kHeaderTimeout:
      return "header";
    case HttpEvent::kBodyTimeout:
      return "body";
    case HttpEvent::kWriteTimeout:
      return "write";
  }
  return "unknown";
}

struct RouteEntry {
  std::string method;
  std::regex pattern;
  HttpHandler handler;
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;  // from any thread: closes at the next safe point
};

struct HttpServer::Impl {
  Options options;
  std::vector<RouteEntry> routes;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::ssl::context> ssl;
  std::vector<std::thread> threads;
  int port = 0;
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable none_open;
  int open = 0;                                      // guarded by mu
  std::unordered_map<std::string, int> per_peer;     // guarded by mu; no zero entries
  std::vector<std::weak_ptr<SessionBase>> sessions;  // guarded by mu; pruned as they go

  std::unique_ptr<net::steady_timer> accept_retry;

  explicit Impl(int threads) : io(threads) {}

  void Event(HttpEvent event) const {
    if (options.on_event) options.on_event(event);
  }
  HttpResponse ErrorPage(int status, const std::string& message) const {
    if (options.error_page) return options.error_page(status, message);
    HttpResponse response;
    response.set(status, message + "\n", "text/plain; charset=utf-8");
    return response;
  }
  void Accept();
  void OnAccept(const beast::error_code& error, tcp::socket socket);
  void Refuse(tcp::socket socket, HttpEvent why, const std::string& message);
  void Closed(const std::string& host) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = per_peer.find(host); it != per_peer.end() && --it->second == 0) {
        per_peer.erase(it);
      }
      --open;
      if (open == 0) none_open.notify_all();
    }
    Event(HttpEvent::kClosed);
  }
};

namespace {

// A refused connection: its 503 written (plain HTTP only), its input drained briefly so the
// client reads the answer, then closed. Costs a socket for at most kLinger.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket socket, std::string answer)
      : stream_(std::move(socket)), answer_(std::move(answer)) {}
  void Start() {
    stream_.expires_after(kLinger);
    net::async_write(stream_, net::buffer(answer_),
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->Close();
                       beast::error_code ignored;
                       self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                       self->Drain();
                     });
  }

 private:
  void Drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code error, size_t) {
                              if (error) return self->Close();
                              self->Drain();
                            });
  }
  void Close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }
  beast::tcp_stream stream_;
  std::string answer_;
  char drain_[kDrainChunk];
};

template <bool kTls>
class Session final : public SessionBase {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Session(HttpServer::Impl* server, tcp::socket socket, std::string host, std::string peer)
      : server_(server),
        limits_(server->options.limits),
        stream_(MakeStream(std::move(socket), server)),
        host_(std::move(host)),
        peer_(std::move(peer)) {}
  ~Session() override { server_->Closed(host_); }

  void Start() override {
    if constexpr (kTls) {
      Lowest().expires_after(limits_.header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = Self()](beast::error_code error) {
                                if (error == beast::error::timeout) {
                                  self->server_->Event(HttpEvent::kHeaderTimeout);
                                }
                                if (error) return self->Close();
                                self->WaitForRequest();
                              });
    } else {
      WaitForRequest();
    }
  }

  void Stop() override {
    net::post(stream_.get_executor(), [self = Self()] {
      self->stopping_ = true;
      if (self->state_ == State::kWaiting) self->Close();
    });
  }

 private:
  enum class State { kWaiting, kHandling, kWriting, kClosed };

  static Stream MakeStream(tcp::socket&& socket, HttpServer::Impl* server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server->ssl);
    } else {
      return Stream(std::move(socket));
    }
  }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Idle until the next request's first byte (idle_timeout), then its headers
  // (header_timeout from that byte).
  void WaitForRequest() {
    state_ = State::kWaiting;
    if (stopping_ || server_->stopping.load()) return Close();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined: already here
    Lowest().expires_after(limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](beast::error_code error, size_t bytes) {
                              if (error == beast::error::timeout) {
                                self->server_->Event(HttpEvent::kIdleTimeout);
                              }
                              if (error) return self->Close();
                              self->buffer_.commit(bytes);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    first_byte_ = Clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    Lowest().expires_after(limits_.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code error, size_t) { self->OnHeader(error); });
  }

  void OnHeader(beast::error_code error) {
    if (error == beast::error::timeout) {
      server_->Event(HttpEvent::kHeaderTimeout);
      return Close();
    }
    if (ClientGone(error)) return Close();
    if (error == http::error::header_limit) {
      return Fail(431, "the request line and headers are over " +
                           std::to_string(limits_.max_header_bytes) + " bytes");
    }
    if (error == http::error::body_limit) return Fail(413, TooLarge());
    if (error) return Fail(400, "malformed HTTP request: " + error.message());
    const auto& request = parser_->get();
    // The body's deadline: the header timeout, plus its size at the minimum rate (a body
    // of unknown length: the largest allowed).
    const double body_bytes = parser_->content_length()
                                  ? static_cast<double>(*parser_->content_length())
                                  : (parser_->chunked() ? limits_.max_body_bytes : 0.0);
    const auto body_deadline = TransferDeadline(body_bytes);
    const auto expect = request[http::field::expect];
    if (!expect.empty() && beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      continue_.emplace(http::status::continue_, request.version());
      Lowest().expires_after(limits_.header_timeout);
      http::async_write(stream_, *continue_,
                        [self = Self(), body_deadline](beast::error_code error, size_t) {
                          if (error) return self->Close();
                          self->ReadBody(body_deadline);
                        });
      return;
    }
    ReadBody(body_deadline);
  }

  void ReadBody(std::chrono::milliseconds deadline) {
    Lowest().expires_after(deadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code error, size_t) { self->OnBody(error); });
  }

  void OnBody(beast::error_code error) {
    if (error == beast::error::timeout) {
      server_->Event(HttpEvent::kBodyTimeout);
      return Close();
    }
    if (ClientGone(error)) return Close();
    if (error == http::error::body_limit) return Fail(413, TooLarge());
    if (error) return Fail(400, "malformed HTTP request body: " + error.message());
    Lowest().expires_never();
    Dispatch();
  }

  // How long a body or an answer of `bytes` may take: the header timeout, plus its size at
  // the slowest rate allowed.
  std::chrono::milliseconds TransferDeadline(double bytes) const {
    return limits_.header_timeout + std::chrono::milliseconds(static_cast<int64_t>(
                                        1000.0 * bytes / limits_.min_bytes_per_second));
  }

  std::string TooLarge() const {
    return "the body is over the limit of " + std::to_string(limits_.max_body_bytes) + " bytes";
  }

  // The request to its route's handler, with a responder that brings the answer back to
  // this connection's strand.
  void Dispatch() {
    state_ = State::kHandling;
    auto& message = parser_->get();
    request_ = HttpRequest();
    request_.method = std::string(message.method_string());
    const std::string_view target = message.target();
    const size_t question = target.find('?');
    request_.path = PercentDecode(target.substr(0, question));
    if (question != std::string_view::npos)
      request_.query = std::string(target.substr(question + 1));
    for (const auto& field : message) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.body = std::move(message.body());
    request_.peer = peer_;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    head_ = message.method() == http::verb::head;
    const bool gzip =
        limits_.compression && !head_ && AcceptsGzip(message[http::field::accept_encoding]);
    parser_.reset();
    handled_ = Clock::now();

    const RouteEntry* route = nullptr;
    std::string allowed;
    std::smatch match;
    for (const RouteEntry& candidate : server_->routes) {
      if (!std::regex_match(request_.path, match, candidate.pattern)) continue;
      const bool same = candidate.method == request_.method || (head_ && candidate.method == "GET");
      if (same) {
        route = &candidate;
        break;
      }
      if (allowed.find(candidate.method) == std::string::npos) {
        allowed += (allowed.empty() ? "" : ", ") + candidate.method;
        if (candidate.method == "GET") allowed += ", HEAD";
      }
    }
    if (route == nullptr && !allowed.empty()) {
      HttpResponse response =
          server_->ErrorPage(405, request_.method + " is not allowed on " +
                                      request_.path.substr(0, 128) + ": use " + allowed);
      response.headers.emplace_back("Allow", allowed);
      return Answer(std::move(response));
    }
    if (route == nullptr) {
      return Answer(server_->ErrorPage(404, request_.method + " " + request_.path.substr(0, 128)));
    }
    for (const auto& group : match) request_.matches.push_back(group.str());
    try {
      route->handler(request_, Responder(gzip));
    } catch (...) {
      // The responder answers 500 when the handler drops it; nothing else to do.
    }
  }

  // Compresses the answer on the caller's thread, then calls Answer on this connection's
  // strand, once; a responder dropped unanswered answers 500.
  HttpResponder Responder(bool gzip) {
    struct Once {
      std::shared_ptr<Session> session;
      bool gzip = false;  // the port compresses, the client takes gzip, not a HEAD
      size_t min_bytes = 0;
      std::atomic<bool> answered{false};
      ~Once() {
        if (!answered.load()) {
          Post(session->server_->ErrorPage(500, "the server dropped the request unanswered"),
               "identity");
        }
      }
      void Post(HttpResponse response, std::string_view encoding) const {
        net::post(session->stream_.get_executor(),
                  [session = session, response = std::move(response), encoding]() mutable {
                    session->Answer(std::move(response), encoding);
                  });
      }
    };
    auto once = std::make_shared<Once>();
    once->session = Self();
    once->gzip = gzip;
    once->min_bytes = limits_.compression_min_bytes;
    return [once](HttpResponse response) {
      if (once->answered.exchange(true)) return;
      const std::string_view encoding = Encode(response, once->gzip, once->min_bytes);
      once->Post(std::move(response), encoding);
    };
  }

  // Writes `answer` (on the strand), its body in `encoding` (Encode's), with a deadline for
  // its size; then the next request, or the close.
  void Answer(HttpResponse answer, std::string_view encoding = "identity") {
    if (state_ != State::kHandling) return;
    state_ = State::kWriting;
    const Clock::time_point answered = Clock::now();
    response_.emplace();
    auto& response = *response_;
    response.version(version_);
    response.result(static_cast<unsigned>(answer.status));
    if (http::int_to_status(static_cast<unsigned>(answer.status)) == http::status::unknown &&
        answer.status == 499) {
      response.reason("Client Closed Request");
    }
    std::string request_id;
    for (const auto& [name, value] : answer.headers) {
      response.set(HeaderSafe(name), HeaderSafe(value));
      if (beast::iequals(name, "X-Request-Id")) request_id = value;
    }
    response.set(http::field::content_type, HeaderSafe(answer.content_type));
    if (Compressible(answer.content_type)) response.set(http::field::vary, "Accept-Encoding");
    if (encoding == "gzip") response.set(http::field::content_encoding, "gzip");
    const size_t body_bytes = answer.body.size();
    response.body() = std::move(answer.body);
    response.prepare_payload();
    if (head_) {
      response.body().clear();
      response.content_length(body_bytes);
    }
    const bool keep = keep_alive_ && !stopping_ && !server_->stopping.load() && !close_after_;
    response.keep_alive(keep);

    exchange_ = HttpExchange();
    exchange_.port = server_->options.name;
    exchange_.method = request_.method;
    exchange_.path = request_.path.substr(0, 256);
    exchange_.status = answer.status;
    exchange_.request_id = std::move(request_id);
    exchange_.peer = peer_;
    exchange_.request_bytes = request_.body.size();
    exchange_.response_bytes = head_ ? 0 : body_bytes;
    exchange_.encoding = encoding;
    exchange_.handler_seconds = Seconds(answered - handled_);
    exchange_.quiet = answer.quiet;
    request_.body.clear();
    request_.body.shrink_to_fit();

    Lowest().expires_after(TransferDeadline(static_cast<double>(body_bytes)));
    http::async_write(stream_, response, [self = Self(), keep](beast::error_code error, size_t) {
      self->exchange_.total_seconds = Seconds(Clock::now() - self->first_byte_);
      self->exchange_.written = !error;
      if (self->server_->options.on_exchange) {
        self->server_->options.on_exchange(self->exchange_);
      }
      self->response_.reset();
      if (error == beast::error::timeout) {
        self->server_->Event(HttpEvent::kWriteTimeout);
      }
      if (error) return self->Close();
      if (!keep) return self->Linger();
      self->WaitForRequest();
    });
  }

  // An error of the server's own (400, 413, 431) on a request that cannot go on: answered,
  // then the connection closes.
  void Fail(int status, const std::string& message) {
    state_ = State::kHandling;
    close_after_ = true;
    head_ = false;
    version_ = 11;
    if (parser_ && parser_->is_header_done()) {
      request_.method = std::string(parser_->get().method_string());
      request_.path = PercentDecode(parser_->get().target().substr(0, 256));
    } else {
      request_.method = "";
      request_.path = "";
    }
    parser_.reset();
    handled_ = Clock::now();
    Answer(server_->ErrorPage(status, message));
  }

  // Closes after the last answer: sends no more, drains what the client still sends for a
  // moment (so it reads the answer rather than a reset), then closes.
  void Linger() {
    state_ = State::kClosed;
    if constexpr (kTls) {
      Lowest().expires_after(kLinger);
      stream_.async_shutdown([self = Self()](beast::error_code) { self->Close(); });
    } else {
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored_);
      Lowest().expires_after(kLinger);
      Drain();
    }
  }
  void Drain() {
    stream_.async_read_some(net::buffer(drain_), [self = Self()](beast::error_code error, size_t) {
      if (error) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    state_ = State::kClosed;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored_);
    Lowest().close();
  }

  HttpServer::Impl* const server_;
  const HttpLimits& limits_;
  Stream stream_;
  const std::string host_;
  const std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  HttpRequest request_;
  HttpExchange exchange_;
  State state_ = State::kWaiting;
  bool stopping_ = false;
  bool keep_alive_ = false;
  bool close_after_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  Clock::time_point first_byte_;
  Clock::time_point handled_;
  beast::error_code ignored_;
  char drain_[kDrainChunk];
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(net::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
    OnAccept(error, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(const beast::error_code& error, tcp::socket socket) {
  if (stopping.load() || error == net::error::operation_aborted || !acceptor->is_open()) return;
  if (error) {
    // Out of descriptors (EMFILE, ENFILE) or a connection gone before it was taken: try
    // again shortly rather than spin.
    accept_retry->expires_after(std::chrono::milliseconds(50));
    accept_retry->async_wait([this](beast::error_code waited) {
      if (!waited && !stopping.load()) Accept();
    });
    return;
  }
  beast::error_code ignored;
  const tcp::endpoint remote = socket.remote_endpoint(ignored);
  const std::string host = remote.address().to_string();
  HttpEvent refused = HttpEvent::kOpened;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (open >= options.limits.max_connections) {
      refused = HttpEvent::kRefusedTotal;
    } else if (options.limits.max_connections_per_peer > 0 &&
               per_peer[host] >= options.limits.max_connections_per_peer) {
      refused = HttpEvent::kRefusedPeer;
      if (per_peer[host] == 0) per_peer.erase(host);
    } else {
      ++open;
      ++per_peer[host];
    }
  }
  if (refused != HttpEvent::kOpened) {
    Refuse(std::move(socket), refused,
           refused == HttpEvent::kRefusedTotal
               ? "the " + options.name + " port has its limit of " +
                     std::to_string(options.limits.max_connections) +
                     " open connections: try again shortly"
               : "this client has its limit of " +
                     std::to_string(options.limits.max_connections_per_peer) +
                     " open connections to the " + options.name + " port");
  } else {
    socket.set_option(tcp::no_delay(true), ignored);
    std::shared_ptr<SessionBase> session;
    if (ssl) {
      session = std::make_shared<Session<true>>(this, std::move(socket), host, PeerText(remote));
    } else {
      session = std::make_shared<Session<false>>(this, std::move(socket), host, PeerText(remote));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (sessions.size() > 64 && sessions.size() > 2 * static_cast<size_t>(open)) {
        sessions.erase(
            std::remove_if(sessions.begin(), sessions.end(),
                           [](const std::weak_ptr<SessionBase>& s) { return s.expired(); }),
            sessions.end());
      }
      sessions.push_back(session);
    }
    Event(HttpEvent::kOpened);
    session->Start();
  }
  Accept();
}

void HttpServer::Impl::Refuse(tcp::socket socket, HttpEvent why, const std::string& message) {
  Event(why);
  if (ssl) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  const HttpResponse page = ErrorPage(503, message);
  std::string answer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + HeaderSafe(page.content_type) +
      "\r\nContent-Length: " + std::to_string(page.body.size()) +
      "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + page.body;
  std::make_shared<Refusal>(std::move(socket), std::move(answer))->Start();
}

HttpServer::HttpServer() = default;

void HttpServer::Route(const std::string& method, const std::string& pattern, HttpHandler handler) {
  routes_.push_back({method, pattern, std::move(handler)});
}

core::Status HttpServer::Start(Options options) {
  std::string host;
  int port = 0;
  if (!SplitAddress(options.address, &host, &port)) {
    return core::InvalidArgumentError(options.name + " address '" + options.address +
                                      "' is not host:port (e.g. " + options.example + ")");
  }
  const HttpLimits& limits = options.limits;
  if (limits.threads < 1 || limits.max_connections < 1 || limits.max_connections_per_peer < 0 ||
      limits.header_timeout.count() <= 0 || limits.idle_timeout.count() <= 0 ||
      !(limits.min_bytes_per_second > 0)) {
    return core::InvalidArgumentError(
        options.name +
        " port limits: threads and connections must be at least 1, timeouts and the minimum "
        "rate above 0");
  }
  auto impl = std::make_shared<Impl>(limits.threads);
  for (PendingRoute& route : routes_) {
    try {
      impl->routes.push_back({route.method, std::regex(route.pattern), std::move(route.handler)});
    } catch (const std::regex_error& e) {
      return core::InternalError(options.name + " route '" + route.pattern +
                                 "' is not a regular expression: " + e.what());
    }
  }
  routes_.clear();
  if (options.tls) {
    impl->ssl.emplace(net::ssl::context::tls_server);
    if (!options.tls(impl->ssl->native_handle())) {
      return core::InternalError("the HTTPS port could not be set up (OpenSSL)");
    }
  }
  beast::error_code error;
  tcp::resolver resolver(impl->io);
  const auto endpoints = resolver.resolve(
      host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, error);
  const std::string where = "cannot listen for " + options.name + " on " + options.address;
  if (error || endpoints.empty()) {
    return core::UnavailableError(where + ": " + (error ? error.message() : "no such host"));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl->acceptor.emplace(net::make_strand(impl->io));
  tcp::acceptor& acceptor = *impl->acceptor;
  // SO_REUSEADDR only: with SO_REUSEPORT a second server on the same port would start and
  // share the connections instead of failing.
  if (acceptor.open(endpoint.protocol(), error) ||
      acceptor.set_option(net::socket_base::reuse_address(true), error) ||
      acceptor.bind(endpoint, error) ||
      acceptor.listen(net::socket_base::max_listen_connections, error)) {
    return core::UnavailableError(where + ": " + error.message());
  }
  impl->port = acceptor.local_endpoint(error).port();
  impl->options = std::move(options);
  impl->accept_retry = std::make_unique<net::steady_timer>(acceptor.get_executor());
  impl->work.emplace(impl->io.get_executor());
  Impl* raw = impl.get();
  net::dispatch(acceptor.get_executor(), [raw] { raw->Accept(); });
  for (int i = 0; i < limits.threads; ++i) {
    impl->threads.emplace_back([raw] { raw->io.run(); });
  }
  impl_ = std::move(impl);
  return core::OkStatus();
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  Impl* impl = impl_.get();
  impl->stopping.store(true);
  std::promise<void> closed;
  net::post(impl->acceptor->get_executor(), [impl, &closed] {
    beast::error_code ignored;
    impl->acceptor->close(ignored);
    impl->accept_retry->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    for (const auto& weak : impl->sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    impl->sessions.clear();
  }
  for (const auto& session : live) session->Stop();
  live.clear();
  {
    std::unique_lock<std::mutex> lock(impl->mu);
    impl->none_open.wait(lock, [impl] { return impl->open == 0; });
  }
  impl->work.reset();
  impl->io.stop();
  for (auto& thread : impl->threads) thread.join();
}

int HttpServer::port() const { return impl_ ? impl_->port : 0; }

int HttpServer::open_connections() const {
  if (!impl_) return 0;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->open;
}

}  // namespace xai::server
