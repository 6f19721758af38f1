// Every per-request limit answers a code that tells the client not to retry: a request over
// one (image pixels or side, targets, layers, steps, samples, batch sizes) is
// INVALID_ARGUMENT over gRPC and 400 over REST, a body over --max-request-bytes is 413 over
// REST. RESOURCE_EXHAUSTED (429) stays for capacity, which a retry can pass (a full queue,
// a client's cap of calls in flight: tests/core/requests/batching_test.cc, security_test).
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "server/server.h"
#include "tests/core/test_paths.h"
#include "tests/server/server_fixture.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxRequestBytes = 1024 * 1024;

std::string Star() {
  return xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
}

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "";
    options.http_address = "127.0.0.1:0";
    options.max_request_bytes = kMaxRequestBytes;
    options.explainer.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
    options.explainer.max_image_pixels = 100'000;
    options.explainer.max_image_side = 1000;
    options.explainer.max_targets = 2;
    options.explainer.max_cam_layers = 1;
    options.explainer.max_perturbation_batch = 8;
    options.explainer.max_attribution_batch = 8;
    options.explainer.max_attribution_steps = 16;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server).release();
    server_->explainer().WaitUntilLoaded();
  }
  static void TearDownTestSuite() { delete server_; }

  // The request sent over gRPC through `call`, and as JSON to REST's `route`: both must
  // refuse it with INVALID_ARGUMENT (400) and a message holding `says`.
  template <typename Request, typename Response>
  void ExpectRefused(const std::string& what, const Request& request, const std::string& route,
                     grpc::Status (xai::v1::Explainer::Stub::*call)(grpc::ClientContext*,
                                                                    const Request&, Response*),
                     const std::string& says) {
    SCOPED_TRACE(what);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    Response response;
    const grpc::Status status = (stub_.get()->*call)(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(says));
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
    auto rest = http_.Post("/v1/models/shapes:" + route, json, "application/json");
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->status, 400) << rest->body.substr(0, 300);
    EXPECT_THAT(rest->body, HasSubstr("INVALID_ARGUMENT"));
    EXPECT_THAT(rest->body, HasSubstr(says));
  }

  static xai::v1::GradCAMRequest GradCam() {
    xai::v1::GradCAMRequest request;
    request.mutable_model()->set_name("shapes");
    request.mutable_image()->set_encoded(Star());
    return request;
  }
  static xai::v1::AttributeRequest Attribute() {
    xai::v1::AttributeRequest request;
    request.mutable_model()->set_name("shapes");
    request.mutable_image()->set_encoded(Star());
    return request;
  }

  static Server* server_;
  std::unique_ptr<xai::v1::Explainer::Stub> stub_ = xai::v1::Explainer::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  httplib::Client http_{"127.0.0.1", server_->http_port()};
};

Server* LimitsTest::server_ = nullptr;

using Stub = xai::v1::Explainer::Stub;

TEST_F(LimitsTest, AnImageOverThePixelOrSideLimitIsInvalidArgumentAnd400) {
  xai::v1::ClassifyRequest classify;
  classify.mutable_model()->set_name("shapes");
  classify.mutable_image()->set_encoded(Png(400, 300));
  ExpectRefused("pixels", classify, "classify", &Stub::Classify, "over the limit of 100000 pixels");
  // The case: a strip of few pixels with one side over the limit.
  classify.mutable_image()->set_encoded(Png(1, 2000));
  ExpectRefused("side", classify, "classify", &Stub::Classify, "a side over the limit of 1000");
  xai::v1::GradCAMRequest gradcam = GradCam();
  gradcam.mutable_image()->set_encoded(Png(2000, 1));
  ExpectRefused("side, GradCAM", gradcam, "gradcam", &Stub::GradCAM, "a side over the limit");
}

TEST_F(LimitsTest, TooManyTargetsLayersStepsSamplesOrABatchOverItsCapIsInvalidArgumentAnd400) {
  xai::v1::GradCAMRequest targets = GradCam();
  for (int t : {0, 1, 2}) targets.add_target_classes(t);
  ExpectRefused("targets", targets, "gradcam", &Stub::GradCAM, "target_classes has 3 entries");
  xai::v1::GradCAMRequest layers = GradCam();
  layers.add_layers("features.0");
  layers.add_layers("features.1");
  ExpectRefused("layers", layers, "gradcam", &Stub::GradCAM, "layers has 2 entries");
  xai::v1::GradCAMRequest batch = GradCam();
  batch.set_method(xai::v1::SCORE_CAM);
  batch.set_batch_size(9);
  ExpectRefused("perturbation batch", batch, "gradcam", &Stub::GradCAM, "batch_size must be in");
  xai::v1::AttributeRequest steps = Attribute();
  steps.set_method(xai::v1::INTEGRATED_GRADIENTS);
  steps.set_steps(17);
  ExpectRefused("steps", steps, "attribute", &Stub::Attribute, "steps must be in [1, 16]");
  xai::v1::AttributeRequest attribution_batch = Attribute();
  attribution_batch.set_batch_size(9);
  ExpectRefused("attribution batch", attribution_batch, "attribute", &Stub::Attribute,
                "batch_size must be in");
  xai::v1::AttributeRequest samples = Attribute();
  samples.set_method(xai::v1::SMOOTH_GRAD);
  samples.set_samples(1 << 20);
  ExpectRefused("samples", samples, "attribute", &Stub::Attribute, "samples must be in");
}

TEST_F(LimitsTest, ABodyOverTheRequestLimitIs413OverRestAndGrpcsOwnAnswerOverGrpc) {
  auto rest = http_.Post("/v1/models/shapes:classify", std::string(kMaxRequestBytes + 10, ' '),
                         "application/json");
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 413) << rest->body.substr(0, 300);
  // gRPC refuses a message over SetMaxReceiveMessageSize in its transport, before any
  // handler: RESOURCE_EXHAUSTED with its own words, which docs/API.md tells clients not to
  // retry (xai_client does not).
  xai::v1::ClassifyRequest big;
  big.mutable_model()->set_name("shapes");
  big.mutable_image()->set_encoded(std::string(kMaxRequestBytes + 10, 'x'));
  grpc::ClientContext context;
  xai::v1::ClassifyResponse response;
  const grpc::Status status = stub_->Classify(&context, big, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
  // Nothing was held: a request within every limit is answered.
  xai::v1::ClassifyRequest fine;
  fine.mutable_model()->set_name("shapes");
  fine.mutable_image()->set_encoded(Star());
  grpc::ClientContext again;
  EXPECT_TRUE(stub_->Classify(&again, fine, &response).ok());
  ASSERT_GT(response.classes_size(), 0);
  EXPECT_EQ(response.classes(0).label(), "star");
}

}  // namespace
}  // namespace xai::server
