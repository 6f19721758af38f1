// The whole server under slow clients, as a load balancer and browsers meet it: 512 stalled
// connections on the REST port and 64 on the metrics port while a Classify over REST and a
// scrape are answered in under a second each; once the stalled ones are closed, the open
// connections, threads and resident memory return to their level before.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "server/server.h"
#include "tests/core/test_paths.h"
#include "tests/server/raw_http.h"
#include "xai/v1/explainer.pb.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;
using xai::testing::RawConnection;
using xai::testing::SecondsSince;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The demo repository served over gRPC and REST on free ports of 127.0.0.1, no metrics
// port, no access lines.
ServerOptions DemoServer() {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "";
  options.http_address = "127.0.0.1:0";
  options.access_log = false;
  options.explainer.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  return options;
}

std::string ClassifyRequest() {
  xai::v1::ClassifyRequest request;
  request.mutable_image()->set_encoded(
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png"));
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
  return "POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(json.size()) + "\r\n\r\n" + json;
}

TEST(SlowClientsTest, StalledConnectionsHoldNeitherPortAndLeaveNothingBehind) {
  ASSERT_GE(xai::testing::RaiseOpenFileLimit(), 2048u);
  ServerOptions options = DemoServer();
  options.metrics_address = "127.0.0.1:0";
  // Long enough that every stalled connection is still open when the calls are made.
  options.http.header_timeout = std::chrono::seconds(20);
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  const int rest = (*server)->http_port();
  const int metrics = (*server)->metrics_port();
  const std::string classify = ClassifyRequest();

  // A warm call on each port first, so that what is measured after is the steady state.
  {
    auto warm = RawConnection::Connect(rest);
    ASSERT_TRUE(warm && warm->Send(classify));
    auto answer = warm->Read(milliseconds(10000));
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
  }
  std::this_thread::sleep_for(milliseconds(200));
  const int threads_before = xai::testing::ThreadCount();
  const double resident_before = xai::testing::ResidentBytes();

  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 512; ++i) {
    auto connection = RawConnection::Connect(rest);
    ASSERT_TRUE(connection) << i;
    // Half a request line, headers that never end, or a body that never comes.
    const char* kinds[] = {"POST /v1/models/shapes:clas",
                           "POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n",
                           "POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n"
                           "Content-Length: 100000\r\n\r\n{\"image\": "};
    ASSERT_TRUE(connection->Send(kinds[i % 3]));
    stalled.push_back(std::move(connection));
  }
  for (int i = 0; i < 64; ++i) {
    auto connection = RawConnection::Connect(metrics);
    ASSERT_TRUE(connection) << i;
    ASSERT_TRUE(connection->Send("GET /metr"));
    stalled.push_back(std::move(connection));
  }
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ((*server)->http_open_connections(), 512);

  auto start = Clock::now();
  auto call = RawConnection::Connect(rest);
  ASSERT_TRUE(call && call->Send(classify));
  auto answer = call->Read(milliseconds(5000));
  const double classify_seconds = SecondsSince(start);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_THAT(answer->body, HasSubstr("\"classes\""));
  EXPECT_LT(classify_seconds, 1.0);

  start = Clock::now();
  auto scrape = RawConnection::Connect(metrics);
  ASSERT_TRUE(scrape && scrape->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto page = scrape->Read(milliseconds(5000));
  const double scrape_seconds = SecondsSince(start);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("xai_http_connections_open{port=\"http\"} 513"));
  EXPECT_LT(scrape_seconds, 1.0);
  const int threads_during = xai::testing::ThreadCount();
  const double resident_during = xai::testing::ResidentBytes();

  stalled.clear();
  call.reset();
  scrape.reset();
  const auto closing = Clock::now();
  while ((*server)->http_open_connections() > 0 && SecondsSince(closing) < 5) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ((*server)->http_open_connections(), 0);
  std::this_thread::sleep_for(milliseconds(200));
  const int threads_after = xai::testing::ThreadCount();
  const double resident_after = xai::testing::ResidentBytes();
  std::printf(
      "slow clients: Classify over REST %.3f s and a scrape %.3f s with 512 + 64 stalled "
      "connections; threads %d before, %d during, %d after; resident memory %.1f MB before, "
      "%.1f during, %.1f after\n",
      classify_seconds, scrape_seconds, threads_before, threads_during, threads_after,
      resident_before / 1e6, resident_during / 1e6, resident_after / 1e6);
  // No thread per connection (gRPC's pools may add one or two of their own).
  EXPECT_LE(threads_during, threads_before + 4);
  EXPECT_LE(threads_after, threads_before + 4);
  // Per connection: a socket and a small buffer. Back within 16 MB of where it was.
  EXPECT_LT(resident_after, resident_before + 16e6);
}

// What a load balancer, a scanner or a broken client sends, on the whole server: each gets
// its 4xx at once, and the server answers a normal call afterwards.
TEST(HostileRequestsTest, EachGetsItsFourHundredAtOnceAndTheServerGoesOn) {
  ServerOptions options = DemoServer();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  const int port = (*server)->http_port();
  const auto post = [](const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  };
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const struct Case {
    const char* what;
    std::string request;
    int status;
  } cases[] = {
      {"deeply nested JSON", post("/v1/models/shapes:classify", deep), 400},
      {"a 70 MB body declared",
       "POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n"
       "Content-Length: 73400320\r\n\r\n" +
           std::string(1 << 16, ' '),
       413},
      {"a 1 MB header", "GET /v1/models HTTP/1.1\r\nX-A: " + std::string(1 << 20, 'a') + "\r\n\r\n",
       431},
      {"path traversal", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"encoded traversal", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404},
      {"bad chunked encoding",
       "POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n"
       "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n",
       400},
      {"a 100 KB model name in the path",
       "GET /v1/models/" + std::string(100000, 'm') + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
      {"invalid UTF-8", post("/v1/models/shapes:classify", "{\"topK\": \"\xff\xfe\"}"), 400},
      {"TLS on the plaintext port", "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n", 400},
      {"KServe of the wrong shape", post("/v1/models/shapes:predict", "{\"instances\": 5}"), 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto connection = RawConnection::Connect(port);
    ASSERT_TRUE(connection);
    connection->Send(c.request);  // the server may answer and close before it all went
    const auto start = Clock::now();
    auto answer = connection->Read(milliseconds(5000));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, c.status) << answer->body.substr(0, 200);
    EXPECT_LT(SecondsSince(start), 1.0);
  }
  auto call = RawConnection::Connect(port);
  ASSERT_TRUE(call && call->Send(ClassifyRequest()));
  auto answer = call->Read(milliseconds(5000));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

}  // namespace
}  // namespace xai::server
