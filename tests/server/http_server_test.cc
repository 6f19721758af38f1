// The event-driven HTTP server (server/http_server.h) on its own, with handlers of the
// test's: slow and idle clients are bounded by their deadlines and cost no thread, the
// connection caps answer 503 at once, a handler that answers later holds no I/O thread,
// compression is used only where it pays, and HTTP's own cases (HEAD, 404, 405, 413, 431,
// malformed requests, Expect: 100-continue, pipelining) get their answers.
#include "server/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "server/http_encoding.h"
#include "tests/server/raw_http.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;
using xai::testing::RawConnection;
using xai::testing::RawResponse;
using xai::testing::SecondsSince;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

// A server with test routes: /hello (text), /json (a large JSON answer), /png (a large
// image), /slow (answers from another thread after `slow_ms`), /drop (drops its
// responder), /echo (POST: the body back).
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { xai::testing::RaiseOpenFileLimit(); }
  void TearDown() override {
    server_.reset();
    for (auto& thread : workers_) thread.join();
  }

  void Start(HttpLimits limits) {
    server_ = std::make_unique<HttpServer>();
    server_->Route("GET", "/hello", [](const HttpRequest&, HttpResponder respond) {
      HttpResponse response;
      response.set(200, "hello\n", "text/plain");
      respond(std::move(response));
    });
    server_->Route("GET", "/json", [](const HttpRequest&, HttpResponder respond) {
      std::string body = "{\"values\": [";
      for (int i = 0; i < 5000; ++i) body += (i ? ", " : "") + std::to_string(i % 97);
      HttpResponse response;
      response.set(200, body + "]}", "application/json");
      respond(std::move(response));
    });
    server_->Route("GET", "/b64", [](const HttpRequest&, HttpResponder respond) {
      // JSON carrying 100 KB of base64 of noise, as an overlay's PNG is.
      static const char kAlphabet[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string body = "{\"png\": \"";
      uint32_t state = 12345;
      for (int i = 0; i < 100000; ++i) {
        state = state * 1664525u + 1013904223u;
        body += kAlphabet[(state >> 24) & 63];
      }
      HttpResponse response;
      response.set(200, body + "\"}", "application/json");
      respond(std::move(response));
    });
    server_->Route("GET", "/png", [](const HttpRequest&, HttpResponder respond) {
      HttpResponse response;
      response.set(200, std::string(100000, 'a'), "image/png");
      respond(std::move(response));
    });
    server_->Route("GET", "/slow", [this](const HttpRequest&, HttpResponder respond) {
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([respond, ms = slow_ms_] {
        std::this_thread::sleep_for(milliseconds(ms));
        HttpResponse response;
        response.set(200, "slow\n", "text/plain");
        respond(std::move(response));
      });
    });
    server_->Route("GET", "/drop", [](const HttpRequest&, HttpResponder) {});
    server_->Route("GET", "/throw", [](const HttpRequest&, HttpResponder) {
      throw std::runtime_error("a handler's bug");
    });
    server_->Route("POST", "/echo", [](const HttpRequest& request, HttpResponder respond) {
      HttpResponse response;
      response.set(200, request.body, "application/octet-stream");
      respond(std::move(response));
    });
    server_->Route("GET", "/items/([0-9]+)", [](const HttpRequest& request, HttpResponder respond) {
      HttpResponse response;
      response.set(200, "item " + request.matches[1] + " " + request.header("x-Thing"),
                   "text/plain");
      respond(std::move(response));
    });
    HttpServer::Options options;
    options.name = "test";
    options.address = "127.0.0.1:0";
    options.example = "127.0.0.1:8000";
    options.limits = limits;
    options.on_exchange = [this](const HttpExchange& exchange) {
      std::lock_guard<std::mutex> lock(mu_);
      exchanges_.push_back(exchange);
    };
    options.on_event = [this](HttpEvent event) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
    };
    const core::Status started = server_->Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  static HttpLimits Fast() {
    HttpLimits limits;
    limits.threads = 1;
    limits.header_timeout = milliseconds(500);
    limits.idle_timeout = milliseconds(800);
    limits.max_body_bytes = 1 << 20;
    limits.max_header_bytes = 8192;
    return limits;
  }

  std::unique_ptr<RawConnection> Connect(const std::string& from = "") {
    auto connection = RawConnection::Connect(server_->port(), from);
    EXPECT_TRUE(connection != nullptr);
    return connection;
  }
  // One GET on a new connection, answered within `timeout`.
  std::optional<RawResponse> Fetch(const std::string& path,
                                   milliseconds timeout = milliseconds(2000),
                                   const std::string& extra = "") {
    auto connection = Connect();
    if (!connection || !connection->Send(Get(path, extra))) return std::nullopt;
    return connection->Read(timeout);
  }
  int Count(HttpEvent event) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(events_.begin(), events_.end(), event));
  }
  // Waits until the server has `open` connections (up to `timeout`); whether it did.
  bool WaitForOpen(int open, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (server_->open_connections() == open) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return server_->open_connections() == open;
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
  std::vector<HttpExchange> exchanges_;
  std::vector<HttpEvent> events_;
  int slow_ms_ = 1000;
};

TEST_F(HttpServerTest,
       StalledRequestLinesHeadersAndBodiesAreClosedAtTheirDeadlinesWhileOthersAreServed) {
  HttpLimits limits = Fast();
  // Long enough that "at once" (under a second, on a busy machine too) is well before it.
  limits.header_timeout = milliseconds(3000);
  Start(limits);
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 100; ++i) {
    stalled.push_back(Connect());
    ASSERT_TRUE(stalled.back()->Send("GET /hel"));  // half a request line
  }
  for (int i = 0; i < 50; ++i) {
    stalled.push_back(Connect());
    ASSERT_TRUE(stalled.back()->Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n"));  // no end
  }
  for (int i = 0; i < 50; ++i) {
    stalled.push_back(Connect());
    ASSERT_TRUE(stalled.back()->Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n0123456789"));
  }
  ASSERT_TRUE(WaitForOpen(200, milliseconds(2000)));
  // One I/O thread, 200 stalled connections: a normal request is answered at once.
  const auto start = Clock::now();
  const auto answer = Fetch("/hello", milliseconds(1000));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "hello\n");
  EXPECT_LT(SecondsSince(start), 1.0);
  // Headers: 3 s from the first byte; the body: 3 s + 5000 B at 64 KiB/s.
  for (auto& connection : stalled) EXPECT_TRUE(connection->ClosedWithin(milliseconds(6000)));
  EXPECT_TRUE(WaitForOpen(0, milliseconds(1000)));
  EXPECT_EQ(Count(HttpEvent::kHeaderTimeout), 150);
  EXPECT_EQ(Count(HttpEvent::kBodyTimeout), 50);
}

TEST_F(HttpServerTest, AByteAtATimeDoesNotExtendTheHeaderDeadline) {
  Start(Fast());
  auto slowloris = Connect();
  const std::string request = Get("/hello");
  const auto start = Clock::now();
  bool closed = false;
  for (size_t i = 0; i + 1 < request.size() && SecondsSince(start) < 3; ++i) {
    if (!slowloris->Send(request.substr(i, 1))) {
      closed = true;
      break;
    }
    if (slowloris->ClosedWithin(milliseconds(100))) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(SecondsSince(start), 1.5);  // 0.5 s from the first byte, not per byte
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsAreClosedAfterTheIdleTimeout) {
  Start(Fast());
  auto connection = Connect();
  ASSERT_TRUE(connection->Send(Get("/hello")));
  auto first = connection->Read(milliseconds(1000));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  // Kept alive: a second request on it is served.
  ASSERT_TRUE(connection->Send(Get("/hello")));
  ASSERT_TRUE(connection->Read(milliseconds(1000)));
  const auto start = Clock::now();
  EXPECT_TRUE(connection->ClosedWithin(milliseconds(3000)));
  EXPECT_GT(SecondsSince(start), 0.6);
  EXPECT_LT(SecondsSince(start), 1.6);
  // Beast closes the socket when the timer fires, and the read's completion (which counts
  // the event) runs just after: the client may see the close first.
  ASSERT_TRUE(WaitForOpen(0, milliseconds(1000)));
  EXPECT_EQ(Count(HttpEvent::kIdleTimeout), 1);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsHoldNoThread) {
  HttpLimits limits = Fast();  // one I/O thread
  limits.idle_timeout = milliseconds(20000);
  Start(limits);
  // 200 kept-alive connections, idle after their request, as a proxy's pool or browsers
  // leave them: a new call is answered at once meanwhile.
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(Connect());
    ASSERT_TRUE(idle.back()->Send(Get("/hello")));
    ASSERT_TRUE(idle.back()->Read(milliseconds(2000)));
  }
  ASSERT_TRUE(WaitForOpen(200, milliseconds(2000)));
  const auto call = Clock::now();
  auto answer = Fetch("/hello", milliseconds(2000));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_LT(SecondsSince(call), 1.0);
  // And each is still served when it asks again.
  for (auto& connection : idle) {
    ASSERT_TRUE(connection->Send(Get("/hello")));
    auto again = connection->Read(milliseconds(2000));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "hello\n");
  }
}

TEST_F(HttpServerTest, ConnectionsOverThePeerOrTotalCapAreAnswered503AtOnce) {
  HttpLimits limits = Fast();
  limits.idle_timeout = milliseconds(5000);
  limits.max_connections_per_peer = 4;
  limits.max_connections = 6;
  Start(limits);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(Connect("127.0.0.1"));
  ASSERT_TRUE(WaitForOpen(4, milliseconds(1000)));
  auto fifth = Connect("127.0.0.1");
  ASSERT_TRUE(fifth->Send(Get("/hello")));
  const auto start = Clock::now();
  auto refused = fifth->Read(milliseconds(1000));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  EXPECT_THAT(refused->body, HasSubstr("limit of 4 open connections"));
  EXPECT_LT(SecondsSince(start), 1.0);
  // Another address is still served ...
  auto other = Connect("127.0.0.2");
  ASSERT_TRUE(other->Send(Get("/hello")));
  auto served = other->Read(milliseconds(1000));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  held.push_back(Connect("127.0.0.3"));
  ASSERT_TRUE(WaitForOpen(6, milliseconds(1000)));
  // ... until the total is reached.
  auto seventh = Connect("127.0.0.4");
  ASSERT_TRUE(seventh->Send(Get("/hello")));
  auto full = seventh->Read(milliseconds(1000));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 503);
  EXPECT_THAT(full->body, HasSubstr("limit of 6 open connections"));
  EXPECT_EQ(Count(HttpEvent::kRefusedPeer), 1);
  EXPECT_EQ(Count(HttpEvent::kRefusedTotal), 1);
  // Closing frees the slots.
  held.clear();
  other.reset();
  ASSERT_TRUE(WaitForOpen(0, milliseconds(2000)));
  auto again = Fetch("/hello");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, AHandlerThatAnswersLaterHoldsNoIoThread) {
  Start(Fast());  // one I/O thread
  slow_ms_ = 1500;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(Connect());
    ASSERT_TRUE(slow.back()->Send(Get("/slow")));
  }
  std::this_thread::sleep_for(milliseconds(100));
  const auto start = Clock::now();
  auto fast = Fetch("/hello", milliseconds(1000));
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->status, 200);
  EXPECT_LT(SecondsSince(start), 1.0);  // the slow handlers answer after 1.5 s
  for (auto& connection : slow) {
    auto answer = connection->Read(milliseconds(3000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->body, "slow\n");
  }
}

TEST_F(HttpServerTest, ADroppedResponderOrAThrowingHandlerIsAnswered500) {
  Start(Fast());
  auto dropped = Fetch("/drop");
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->status, 500);
  EXPECT_THAT(dropped->body, HasSubstr("unanswered"));
  auto thrown = Fetch("/throw");
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  auto fine = Fetch("/hello");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpServerTest, GzipOnlyWhereTheClientTakesItTheTypeCompressesAndTheAnswerIsLarge) {
  Start(Fast());
  const std::string browser = "Accept-Encoding: gzip, deflate, br\r\n";
  auto plain = Fetch("/json");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->header("content-encoding"), "");
  EXPECT_EQ(plain->header("vary"), "Accept-Encoding");
  auto gzipped = Fetch("/json", milliseconds(2000), browser);
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(gzipped->header("content-encoding"), "gzip");
  EXPECT_LT(gzipped->body.size(), plain->body.size() / 2);
  EXPECT_EQ(xai::testing::Gunzip(gzipped->body), plain->body);
  // brotli alone, or gzip refused: as it is.
  auto brotli = Fetch("/json", milliseconds(2000), "Accept-Encoding: br\r\n");
  ASSERT_TRUE(brotli);
  EXPECT_EQ(brotli->header("content-encoding"), "");
  EXPECT_EQ(brotli->body, plain->body);
  auto refused = Fetch("/json", milliseconds(2000), "Accept-Encoding: gzip;q=0, *\r\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->header("content-encoding"), "");
  // JSON of base64 noise saves too little: as it is.
  auto b64 = Fetch("/b64", milliseconds(2000), browser);
  ASSERT_TRUE(b64);
  EXPECT_EQ(b64->header("content-encoding"), "");
  EXPECT_GT(b64->body.size(), 100000u);
  // An image never; a small answer never.
  auto png = Fetch("/png", milliseconds(2000), browser);
  ASSERT_TRUE(png);
  EXPECT_EQ(png->header("content-encoding"), "");
  EXPECT_EQ(png->body.size(), 100000u);
  auto small = Fetch("/hello", milliseconds(2000), browser);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->header("content-encoding"), "");
  // The exchange reports what was sent.
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_GE(exchanges_.size(), 2u);
  EXPECT_EQ(exchanges_[1].encoding, "gzip");
  EXPECT_EQ(exchanges_[1].response_bytes, gzipped->body.size());
  EXPECT_EQ(exchanges_[1].status, 200);
  EXPECT_EQ(exchanges_[1].port, "test");
  EXPECT_GT(exchanges_[1].total_seconds, 0);
}

TEST_F(HttpServerTest, CompressionOffSendsEverythingAsItIs) {
  HttpLimits limits = Fast();
  limits.compression = false;
  Start(limits);
  auto answer = Fetch("/json", milliseconds(2000), "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->header("content-encoding"), "");
}

TEST_F(HttpServerTest, HttpsOwnCasesGetTheirAnswers) {
  HttpLimits limits = Fast();
  limits.max_body_bytes = 1000;
  limits.max_header_bytes = 2048;
  Start(limits);
  auto missing = Fetch("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto captured = Fetch("/items/42", milliseconds(2000), "X-THING: abc\r\n");
  ASSERT_TRUE(captured);
  EXPECT_EQ(captured->body, "item 42 abc");
  auto decoded = Fetch("/item%73/7");  // %73 is 's'
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->body, "item 7 ");
  {
    auto connection = Connect();
    ASSERT_TRUE(connection->Send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto answer = connection->Read(milliseconds(1000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 405);
    EXPECT_EQ(answer->header("allow"), "GET, HEAD");
  }
  {
    auto connection = Connect();
    ASSERT_TRUE(connection->Send("HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n" + Get("/hello")));
    auto head = connection->Read(milliseconds(1000), /*head=*/true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    // HEAD: the length of what GET would send, and no body (the next answer follows).
    EXPECT_GT(std::stoul(head->header("content-length")), 10000u);
    auto next = connection->Read(milliseconds(1000));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "hello\n");
  }
  {
    auto connection = Connect();
    ASSERT_TRUE(connection->Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    auto answer = connection->Read(milliseconds(1000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 413);
    EXPECT_TRUE(connection->ClosedWithin(milliseconds(3000)));
  }
  {
    auto connection = Connect();
    ASSERT_TRUE(connection->Send(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n"));
    auto answer = connection->Read(milliseconds(1000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 431);
  }
  for (const char* bad : {"BLAH\r\n\r\n", "GET /hello XTTP/1.1\r\n\r\n",
                          "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                          // TLS's first bytes on the plaintext port
                          "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n"}) {
    auto connection = Connect();
    ASSERT_TRUE(connection->Send(bad));
    auto answer = connection->Read(milliseconds(1000));
    ASSERT_TRUE(answer) << bad;
    EXPECT_EQ(answer->status, 400) << bad;
  }
  {
    // Expect: 100-continue gets its interim answer before the body is sent.
    auto connection = Connect();
    ASSERT_TRUE(connection->Send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
    auto interim = connection->Read(milliseconds(1000));
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(connection->Send("abc"));
    auto answer = connection->Read(milliseconds(1000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->body, "abc");
  }
  {
    // Pipelined requests (one of them chunked) are answered in order.
    auto connection = Connect();
    ASSERT_TRUE(connection->Send(Get("/hello") +
                                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" +
                                 Get("/items/9")));
    auto first = connection->Read(milliseconds(1000));
    auto second = connection->Read(milliseconds(1000));
    auto third = connection->Read(milliseconds(1000));
    ASSERT_TRUE(first && second && third);
    EXPECT_EQ(first->body, "hello\n");
    EXPECT_EQ(second->body, "xyz");
    EXPECT_EQ(third->body, "item 9 ");
  }
  {
    // HTTP/1.0 and Connection: close end the connection after the answer.
    auto connection = Connect();
    ASSERT_TRUE(connection->Send("GET /hello HTTP/1.0\r\n\r\n"));
    ASSERT_TRUE(connection->Read(milliseconds(1000)));
    EXPECT_TRUE(connection->ClosedWithin(milliseconds(1000)));
  }
}

TEST(HttpServerStartTest, AnAddressInUseOrMalformedFailsWithTheReason) {
  HttpServer first;
  HttpServer::Options options;
  options.name = "test";
  options.address = "127.0.0.1:0";
  options.example = "0.0.0.0:8000";
  ASSERT_TRUE(first.Start(options).ok());
  HttpServer second;
  options.address = "127.0.0.1:" + std::to_string(first.port());
  const core::Status in_use = second.Start(options);
  EXPECT_EQ(in_use.code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(in_use.message(), HasSubstr("cannot listen for test on " + options.address));
  for (const char* bad : {"8000", "localhost:", "[::1:80", "host:99999", "::1:80"}) {
    HttpServer server;
    options.address = bad;
    const core::Status started = server.Start(options);
    EXPECT_EQ(started.code(), core::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(started.message(), HasSubstr("is not host:port (e.g. 0.0.0.0:8000)")) << bad;
  }
}

TEST(HttpEncodingTest, AcceptsGzipReadsQValues) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("GZIP"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=nonsense"));
  EXPECT_TRUE(Compressible("application/json"));
  EXPECT_TRUE(Compressible("text/html; charset=utf-8"));
  EXPECT_TRUE(Compressible("text/plain; version=0.0.4"));
  EXPECT_TRUE(Compressible("application/javascript"));
  EXPECT_FALSE(Compressible("image/png"));
  EXPECT_FALSE(Compressible("application/octet-stream"));
  const std::string text(10000, 'x');
  const auto gzipped = Gzip(text, 1);
  ASSERT_TRUE(gzipped);
  EXPECT_LT(gzipped->size(), 200u);
  EXPECT_EQ(xai::testing::Gunzip(*gzipped), text);
  std::string json;
  for (int i = 0; i < 20000; ++i) json += "{\"a\": 1} ";
  const auto worth = GzipIfWorthIt(json, 0.7);
  ASSERT_TRUE(worth);
  EXPECT_EQ(xai::testing::Gunzip(*worth), json);
  EXPECT_EQ(Base64Share(json), 0.0);
  std::string noise;
  uint32_t state = 1;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1664525u + 1013904223u;
    noise += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(state >> 24) & 63];
  }
  EXPECT_FALSE(GzipIfWorthIt(noise, 0.7));
  EXPECT_EQ(Base64Share(noise), 1.0);
  // Short base64 runs (words, numbers) are not base64 payloads.
  EXPECT_EQ(Base64Share(std::string(127, 'Q') + " " + std::string(127, 'Q')), 0.0);
}

}  // namespace
}  // namespace xai::server
