// The server's shutdown with calls in flight, and its log lines' JSON escaping.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/logging.h"
#include "server/server.h"
#include "tests/core/test_paths.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

TEST(LoggingTest, JsonEscapeKeepsUtf8AndEscapesTheRest) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\te\x01"), "a\\\"b\\\\c\\nd\\te\\u0001");
  EXPECT_EQ(JsonEscape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // kept
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
  EXPECT_EQ(JsonEscape("a\x80"
                       "b"),
            "a\\ufffd"
            "b");
  EXPECT_EQ(JsonEscape("\xe2\x82"), "\\ufffd\\ufffd");
  EXPECT_EQ(JsonEscape("\xc0\xaf"), "\\ufffd\\ufffd");
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");
  const nlohmann::json parsed = nlohmann::json::parse("\"" + JsonEscape("x\xff\"\n") + "\"");
  EXPECT_EQ(parsed.get<std::string>(), "x\xef\xbf\xbd\"\n");
}

TEST(ServerShutdownTest, FinishesCallsInFlight) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "";
  options.http_address = "";
  options.explainer.model_repository = xai::testing::FixtureRepo();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  const std::string tensor(3 * 224 * 224 * 4, '\0');
  std::vector<std::future<grpc::Status>> calls;
  std::atomic<int> sent{0};
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      xai::v1::ClassifyRequest request;
      request.mutable_model()->set_name("resnet18");
      auto* t = request.mutable_image()->mutable_tensor();
      t->add_shape(3), t->add_shape(224), t->add_shape(224);
      t->set_data(tensor);
      grpc::ClientContext context;
      xai::v1::ClassifyResponse response;
      ++sent;
      return xai::v1::Explainer::NewStub(channel)->Classify(&context, request, &response);
    }));
  }
  while (sent.load() < 6) std::this_thread::yield();
  // Let every call reach the server: one worker runs one, the other five wait in its queue
  // (all six may be queued for a moment, before the worker takes the first).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*server)->explainer().queued() != 5 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ((*server)->explainer().queued(), 5);
  (*server)->Shutdown(std::chrono::seconds(60));
  for (auto& call : calls) {
    const grpc::Status status = call.get();
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  }
  // New calls are refused once stopped.
  xai::v1::ListModelsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(xai::v1::Explainer::NewStub(channel)->ListModels(&context, {}, &response).ok());
}

}  // namespace
}  // namespace xai::server
