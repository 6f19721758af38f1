// The fixture of the in-process gRPC tests: a real server on localhost:0 with the fixture
// repository, per test suite, driven through the generated stub. One test file per RPC or
// feature (tests/server/rpc_*_test.cc, metrics_endpoint_test.cc, ...); a new feature adds its
// file with a suite derived from ServerFixture rather than growing another's.
#ifndef XAI_TESTS_SERVER_SERVER_FIXTURE_H_
#define XAI_TESTS_SERVER_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "server/server.h"
#include "tests/core/test_paths.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {

// A PNG of one colour.
inline std::string Png(int width, int height) {
  std::vector<uchar> buffer;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(30, 60, 90)), buffer);
  return std::string(buffer.begin(), buffer.end());
}

class ServerFixture : public ::testing::Test {
 protected:
  // The fixture server's --max-request-bytes.
  static constexpr int kMaxRequestBytes = 4 * 1024 * 1024;

  static void SetUpTestSuite() {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    options.http_address = "";
    options.max_request_bytes = kMaxRequestBytes;
    options.explainer.model_repository = xai::testing::FixtureRepo();
    options.explainer.max_image_pixels = 1'000'000;
    StartServer(options);
  }
  // Starts the suite's server with `options` (a suite with options of its own calls it
  // from its SetUpTestSuite), its models loaded, and the channel to it.
  static void StartServer(const ServerOptions& options) {
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server).release();
    server_->explainer().WaitUntilLoaded();
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    channel_ = nullptr;
    delete server_;
    server_ = nullptr;
  }

  std::unique_ptr<xai::v1::Explainer::Stub> stub_ = xai::v1::Explainer::NewStub(*channel_);

  static grpc::Status Classify(const xai::v1::ClassifyRequest& request,
                               xai::v1::ClassifyResponse* response,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return xai::v1::Explainer::NewStub(*channel_)->Classify(&context, request, response);
  }

  static xai::v1::ClassifyRequest Request(const std::string& model, const std::string& encoded) {
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name(model);
    request.mutable_image()->set_encoded(encoded);
    return request;
  }

  // The sample image of the reference fixtures (a 224 x 224 PNG).
  static std::string SampleImage() {
    return xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png");
  }

  static inline Server* server_ = nullptr;
  static inline std::shared_ptr<grpc::Channel>* channel_ = nullptr;
};

}  // namespace xai::server

#endif  // XAI_TESTS_SERVER_SERVER_FIXTURE_H_
