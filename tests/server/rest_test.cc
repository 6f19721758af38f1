// The REST gateway (server/rest_gateway.h) against the same server's gRPC answers: every
// route, field by field on the same inputs (the JSON read back into the proto message), and
// bad input: JSON that is not, unknown fields, base64 that is not, unknown routes and models,
// bodies over the limit, a bad timeout header.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "server/rest_gateway.h"
#include "server/server.h"
#include "tests/core/test_paths.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxRequestBytes = 4 * 1024 * 1024;

// A server of the demo model with gRPC and REST on free ports of 127.0.0.1.
ServerOptions RestOptions() {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "";
  options.http_address = "127.0.0.1:0";
  options.explainer.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  return options;
}

class RestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions options = RestOptions();
    options.max_request_bytes = kMaxRequestBytes;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server).release();
    server_->explainer().WaitUntilLoaded();
  }
  static void TearDownTestSuite() { delete server_; }

  std::unique_ptr<xai::v1::Explainer::Stub> stub_ = xai::v1::Explainer::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  httplib::Client http_{"127.0.0.1", server_->http_port()};

  static std::string Json(const google::protobuf::Message& message) {
    std::string out;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out).ok());
    return out;
  }
  // POSTs `request` as JSON to `path`; the answer read back into `response`.
  httplib::Result Post(const std::string& path, const google::protobuf::Message& request) {
    return http_.Post(path, Json(request), "application/json");
  }
  template <typename Message>
  static Message Parse(const httplib::Result& result) {
    Message message;
    EXPECT_TRUE(result) << "no answer";
    if (!result) return message;
    const auto status = google::protobuf::util::JsonStringToMessage(result->body, &message);
    EXPECT_TRUE(status.ok()) << status.message() << "\n" << result->body.substr(0, 300);
    return message;
  }
  static void ExpectSame(const google::protobuf::Message& rest,
                         const google::protobuf::Message& grpc_answer) {
    google::protobuf::util::MessageDifferencer differencer;
    std::string differences;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(rest, grpc_answer)) << differences.substr(0, 2000);
  }
  static std::string Star() {
    return xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
  }

  static Server* server_;
};

Server* RestTest::server_ = nullptr;

TEST_F(RestTest, EveryRpcAnswersAsOverGrpc) {
  xai::v1::ClassifyRequest classify;
  classify.mutable_image()->set_encoded(Star());
  classify.mutable_model()->set_name("ignored: the path names the model");
  auto rest = Post("/v1/models/shapes:classify", classify);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200) << rest->body;
  EXPECT_EQ(rest->get_header_value("Content-Type"), "application/json");
  classify.mutable_model()->set_name("shapes");
  xai::v1::ClassifyResponse classified;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Classify(&context, classify, &classified).ok());
  }
  ExpectSame(Parse<xai::v1::ClassifyResponse>(rest), classified);
  // Index 0 is written, not left out as proto3 JSON's default would.
  EXPECT_THAT(rest->body, HasSubstr("\"index\":0"));

  xai::v1::GradCAMRequest gradcam;
  gradcam.mutable_image()->set_encoded(Star());
  gradcam.mutable_overlay()->set_enabled(true);
  rest = Post("/v1/models/shapes/versions/1:gradcam", gradcam);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200) << rest->body.substr(0, 300);
  gradcam.mutable_model()->set_name("shapes");
  gradcam.mutable_model()->set_version(1);
  xai::v1::GradCAMResponse cams;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GradCAM(&context, gradcam, &cams).ok());
  }
  ExpectSame(Parse<xai::v1::GradCAMResponse>(rest), cams);

  xai::v1::AttributeRequest attribute;
  attribute.mutable_image()->set_encoded(Star());
  attribute.set_method(xai::v1::XRAI);
  attribute.set_steps(8);
  attribute.mutable_overlay()->set_enabled(true);
  rest = Post("/v1/models/shapes:attribute", attribute);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200) << rest->body.substr(0, 300);
  attribute.mutable_model()->set_name("shapes");
  xai::v1::AttributeResponse attributions;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Attribute(&context, attribute, &attributions).ok());
  }
  ExpectSame(Parse<xai::v1::AttributeResponse>(rest), attributions);

  xai::v1::DecisionPathRequest path;
  path.mutable_image()->set_encoded(Star());
  path.set_render(true);
  rest = Post("/v1/models/shapes:decisionPath", path);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200) << rest->body.substr(0, 300);
  path.mutable_model()->set_name("shapes");
  xai::v1::DecisionPathResponse paths;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DecisionPath(&context, path, &paths).ok());
  }
  ExpectSame(Parse<xai::v1::DecisionPathResponse>(rest), paths);

  auto listed = http_.Get("/v1/models");
  xai::v1::ListModelsResponse models;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListModels(&context, {}, &models).ok());
  }
  ExpectSame(Parse<xai::v1::ListModelsResponse>(listed), models);

  auto described = http_.Get("/v1/models/shapes/versions/1");
  xai::v1::DescribeModelRequest describe;
  describe.mutable_model()->set_name("shapes");
  describe.mutable_model()->set_version(1);
  xai::v1::DescribeModelResponse description;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DescribeModel(&context, describe, &description).ok());
  }
  ExpectSame(Parse<xai::v1::DescribeModelResponse>(described), description);

  // Statistics move with every call: the same models and methods, and counts that grew.
  auto stats = Parse<xai::v1::ModelStatisticsResponse>(http_.Get("/v1/models/shapes/stats"));
  ASSERT_EQ(stats.models_size(), 1);
  EXPECT_EQ(stats.models(0).model().name(), "shapes");
  EXPECT_GE(stats.models(0).methods_size(), 4);

  auto live = http_.Get("/v2/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  auto ready = http_.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_THAT(ready->body, HasSubstr("\"ready\": true"));
}

// KServe's v1 protocol: :predict answers each instance's Classify, :explain its GradCAM with
// the overlay, in instance order, equal to the gRPC answers; instances that are not images
// are refused naming their index.
TEST_F(RestTest, KServePredictAndExplainAnswerEachInstance) {
  const std::string circle =
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/circle_0.png");
  std::string b64_star, b64_circle;
  google::protobuf::util::MessageToJsonString(
      [&] {
        xai::v1::Image image;
        image.set_encoded(Star());
        return image;
      }(),
      &b64_star);
  xai::v1::Image circle_image;
  circle_image.set_encoded(circle);
  google::protobuf::util::MessageToJsonString(circle_image, &b64_circle);
  // {"encoded":"..."} -> the base64 text.
  auto base64 = [](const std::string& json) {
    const size_t start = json.find(":\"") + 2;
    return json.substr(start, json.rfind('"') - start);
  };
  const std::string body = R"({"instances": [{"b64": ")" + base64(b64_star) +
                           R"("}, {"image_bytes": {"b64": ")" + base64(b64_circle) + R"("}}]})";
  auto predicted = http_.Post("/v1/models/shapes:predict", body, "application/json");
  ASSERT_TRUE(predicted);
  ASSERT_EQ(predicted->status, 200) << predicted->body.substr(0, 300);
  const auto predictions = nlohmann::json::parse(predicted->body)["predictions"];
  ASSERT_EQ(predictions.size(), 2u);
  const std::vector<std::string> images = {Star(), circle};
  for (size_t i = 0; i < 2; ++i) {
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name("shapes");
    request.mutable_image()->set_encoded(images[i]);
    xai::v1::ClassifyResponse expected;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Classify(&context, request, &expected).ok());
    xai::v1::ClassifyResponse got;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(predictions[i].dump(), &got).ok());
    ExpectSame(got, expected);
  }
  EXPECT_EQ(predictions[0]["classes"][0]["label"], "star");
  EXPECT_EQ(predictions[1]["classes"][0]["label"], "circle");

  const std::string one = R"({"instances": [{"b64": ")" + base64(b64_star) + R"("}]})";
  auto explained = http_.Post("/v1/models/shapes:explain", one, "application/json");
  ASSERT_TRUE(explained);
  ASSERT_EQ(explained->status, 200) << explained->body.substr(0, 300);
  const auto explanations = nlohmann::json::parse(explained->body)["explanations"];
  ASSERT_EQ(explanations.size(), 1u);
  xai::v1::GradCAMRequest gradcam;
  gradcam.mutable_model()->set_name("shapes");
  gradcam.mutable_image()->set_encoded(Star());
  gradcam.mutable_overlay()->set_enabled(true);
  xai::v1::GradCAMResponse cams;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GradCAM(&context, gradcam, &cams).ok());
  }
  xai::v1::GradCAMResponse got;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(explanations[0].dump(), &got).ok());
  ExpectSame(got, cams);

  for (const auto& [bad, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"instances": []})", "instances must hold 1 to 64 images, got 0"},
           {R"({"inputs": []})", "the body must be KServe's"},
           {R"({"instances": [{"b64": "!!"}]})", "instances[0] must be"},
           {R"({"instances": [{"b64": ")" + base64(b64_star) + R"("}, 7]})",
            "instances[1] must be"},
           {R"({"instances": [{"b64": "aGVsbG8="}]})", "instances[0]: "}}) {
    auto result = http_.Post("/v1/models/shapes:predict", bad, "application/json");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 400) << bad;
    EXPECT_THAT(result->body, HasSubstr(message)) << bad;
  }
}

// Bad input: the right 4xx with a JSON error naming what is wrong, never a 500.
TEST_F(RestTest, BadInputGetsTheRightStatusAndAJsonError) {
  struct Case {
    std::string what, method, path, body, content_type;
    int status;
    std::string code, message;
  };
  const std::string star = Star();
  xai::v1::ClassifyRequest good;
  good.mutable_image()->set_encoded(star);
  const std::vector<Case> cases = {
      {"not JSON", "POST", "/v1/models/shapes:classify", "not json", "application/json", 400,
       "INVALID_ARGUMENT", "the body is not a xai.v1.ClassifyRequest in JSON"},
      {"an unknown field", "POST", "/v1/models/shapes:classify", R"({"imag": {}})",
       "application/json", 400, "INVALID_ARGUMENT", "imag"},
      {"a wrong type", "POST", "/v1/models/shapes:classify", R"({"topK": "three"})",
       "application/json", 400, "INVALID_ARGUMENT", "(top_k): invalid value"},
      {"base64 that is not", "POST", "/v1/models/shapes:classify",
       R"({"image": {"encoded": "!!"}})", "application/json", 400, "INVALID_ARGUMENT",
       "image.encoded"},
      {"no image", "POST", "/v1/models/shapes:classify", "{}", "application/json", 400,
       "INVALID_ARGUMENT", "image"},
      {"an unknown model", "POST", "/v1/models/nope:classify", Json(good), "application/json", 404,
       "NOT_FOUND", "model \"nope\" not found"},
      {"an unknown route", "GET", "/v1/nothing", "", "", 404, "NOT_FOUND", "no such route"},
      {"an unknown verb", "POST", "/v1/models/shapes:explode", Json(good), "application/json", 404,
       "NOT_FOUND", "no such route"},
      {"a body over the limit", "POST", "/v1/models/shapes:classify",
       std::string(kMaxRequestBytes + 10, ' '), "application/json", 413, "RESOURCE_EXHAUSTED",
       "the body is over the limit of 4194304 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    httplib::Result result =
        c.method == "GET" ? http_.Get(c.path) : http_.Post(c.path, c.body, c.content_type);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, c.status) << result->body.substr(0, 300);
    const auto error = nlohmann::json::parse(result->body, nullptr, false);
    ASSERT_FALSE(error.is_discarded()) << result->body.substr(0, 300);
    EXPECT_EQ(error.value("code", ""), c.code);
    EXPECT_THAT(error.value("message", ""), HasSubstr(c.message));
  }
  // A parse error quotes the body: at most 1 KB of it comes back.
  const std::string huge = "[" + std::string(100000, 'x') + "]";
  auto quoted = http_.Post("/v1/models/shapes:classify", huge, "application/json");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->status, 400);
  EXPECT_LT(quoted->body.size(), 1300u);
  // A request id or token gRPC could not carry: a generated id; no token passed on.
  httplib::Headers odd = {{"X-Request-Id", "tab\there"}};
  auto odd_id = http_.Post("/v1/models/nope:classify", odd, Json(good), "application/json");
  ASSERT_TRUE(odd_id);
  EXPECT_EQ(odd_id->status, 404);
  EXPECT_THAT(odd_id->get_header_value("X-Request-Id"), HasSubstr("http-"));
  // The request id: the caller's, echoed in the header and the error.
  httplib::Headers headers = {{"X-Request-Id", "rest-42"}};
  auto missing = http_.Post("/v1/models/nope:classify", headers, Json(good), "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->get_header_value("X-Request-Id"), "rest-42");
  EXPECT_THAT(missing->body, HasSubstr("\"request_id\": \"rest-42\""));
  // A timeout that is not a number of seconds; a deadline that passes: 504.
  headers = {{"X-Request-Timeout", "soon"}};
  auto bad_timeout =
      http_.Post("/v1/models/shapes:classify", headers, Json(good), "application/json");
  ASSERT_TRUE(bad_timeout);
  EXPECT_EQ(bad_timeout->status, 400);
  EXPECT_THAT(bad_timeout->body, HasSubstr("X-Request-Timeout"));
  xai::v1::AttributeRequest slow;
  slow.mutable_image()->set_encoded(star);
  slow.set_steps(1024);
  slow.set_batch_size(1);
  headers = {{"X-Request-Timeout", "0.2"}};
  auto late = http_.Post("/v1/models/shapes:attribute", headers, Json(slow), "application/json");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 504) << late->body.substr(0, 300);
  EXPECT_THAT(late->body, HasSubstr("DEADLINE_EXCEEDED"));
}

// Tokens: the gateway passes Authorization on, so REST calls need a token as gRPC calls do:
// 401 without one, 403 with a role too low, 200 with the right one; health stays open.
TEST(RestTokenTest, RestCallsNeedTheTokensGrpcCallsNeed) {
  const std::string tokens =
      (std::filesystem::temp_directory_path() / ("xai_rest_tokens_" + std::to_string(getpid())))
          .string();
  {
    std::ofstream out(tokens);
    out << "explain-token-0123456789 explain backend\n";
  }
  std::filesystem::permissions(
      tokens, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ServerOptions options = RestOptions();
  options.auth_tokens_file = tokens;
  options.enable_admin = true;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  httplib::Client http("127.0.0.1", (*server)->http_port());
  auto anonymous = http.Get("/v1/models");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  EXPECT_THAT(anonymous->body, HasSubstr("\"code\": \"UNAUTHENTICATED\""));
  auto wrong = http.Get("/v1/models", {{"Authorization", "Bearer not-a-token-at-all-000"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto allowed = http.Get("/v1/models", {{"Authorization", "Bearer explain-token-0123456789"}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  auto live = http.Get("/v2/health/ready");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  std::filesystem::remove(tokens);
}

TEST_F(RestTest, TheWebPageAndTheSamplesAreServedFromTheBinary) {
  auto page = http_.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->body, HasSubstr("<title>xai-serve</title>"));
  // Nothing may come from elsewhere: the air-gapped cluster's case.
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'none'"));
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("http://")));
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("https://")));
  for (const char* path : {"/app.js", "/style.css"}) {
    auto file = http_.Get(path);
    ASSERT_TRUE(file) << path;
    EXPECT_EQ(file->status, 200) << path;
    EXPECT_THAT(file->body, ::testing::Not(HasSubstr("https://"))) << path;
  }
  auto index = http_.Get("/samples/index.json");
  ASSERT_TRUE(index);
  const auto samples = nlohmann::json::parse(index->body);
  ASSERT_TRUE(samples.is_array());
  ASSERT_FALSE(samples.empty());
  for (const auto& name : samples) {
    auto image = http_.Get("/samples/" + name.get<std::string>());
    ASSERT_TRUE(image);
    EXPECT_EQ(image->status, 200);
    std::ifstream in(std::string(XAI_SOURCE_DIR) + "/samples/" + name.get<std::string>(),
                     std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(image->body, bytes) << name;
  }
  auto missing = http_.Get("/samples/none.png");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(RestWebPageTest, WebPageFalseServesTheApiOnly) {
  ServerOptions options = RestOptions();
  options.web_page = false;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  httplib::Client http("127.0.0.1", (*server)->http_port());
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  auto live = http.Get("/v2/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
}

TEST(RestThreadsTest, OneHttpThreadServesCallsAndKServesInstancesAtOnce) {
  ServerOptions options = RestOptions();
  options.http.threads = 1;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  xai::v1::Image image;
  image.set_encoded(xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png"));
  std::string image_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(image, &image_json).ok());
  const std::string instance =
      R"({"b64": ")" + nlohmann::json::parse(image_json)["encoded"].get<std::string>() + R"("})";
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      httplib::Client http("127.0.0.1", (*server)->http_port());
      http.set_read_timeout(60);
      auto answer =
          http.Post("/v1/models/shapes:predict",
                    R"({"instances": [)" + instance + ", " + instance + "]}", "application/json");
      if (answer && answer->status == 200 &&
          nlohmann::json::parse(answer->body)["predictions"].size() == 2) {
        ++ok;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), 3);
}

TEST(RestStatusTest, EveryGrpcCodeHasItsHttpStatus) {
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::OK), 200);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INTERNAL), 500);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNKNOWN), 500);
}

}  // namespace
}  // namespace xai::server
