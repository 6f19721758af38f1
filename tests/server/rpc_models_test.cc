// ListModels, DescribeModel and health through a real server (tests/server/server_fixture.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

class ModelsRpcTest : public ServerFixture {};

TEST_F(ModelsRpcTest, ListModelsShowsReadyAndFailedWithReasons) {
  grpc::ClientContext context;
  xai::v1::ListModelsResponse response;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &response).ok());
  std::map<std::string, xai::v1::ModelStatus> by_name;
  for (const auto& m : response.models()) by_name[m.name()] = m;
  EXPECT_EQ(by_name["resnet18"].state(), "READY");
  EXPECT_EQ(by_name["resnet18_scripted"].state(), "READY");
  EXPECT_EQ(by_name["resnet18"].devices(0), "cpu");
  EXPECT_EQ(by_name["bad_labels"].state(), "FAILED");
  EXPECT_THAT(by_name["bad_labels"].reason(), HasSubstr("has 2 labels"));
}

TEST_F(ModelsRpcTest, DescribeModelGivesLayersAndShapes) {
  grpc::ClientContext context;
  xai::v1::DescribeModelRequest request;
  request.mutable_model()->set_name("resnet18");
  xai::v1::DescribeModelResponse r;
  ASSERT_TRUE(stub_->DescribeModel(&context, request, &r).ok());
  EXPECT_EQ(r.model().version(), 1);
  EXPECT_EQ(std::vector<int64_t>(r.input_shape().begin(), r.input_shape().end()),
            (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(r.num_classes(), 1000);
  EXPECT_EQ(r.labels_size(), 1000);
  EXPECT_EQ(r.default_cam_layer(), "layer4");
  EXPECT_EQ(r.default_path_layers_size(), 4);
  // On the CPU, Classify runs on the pool's frozen copy (model_pool_test checks its logits).
  EXPECT_EQ(r.inference_graph(), "frozen for inference");
  bool found = false;
  for (const auto& layer : r.layers()) {
    if (layer.path() != "layer3.1.conv2") continue;
    found = true;
    EXPECT_EQ(layer.type(), "Conv2d");
    EXPECT_EQ(std::vector<int64_t>(layer.output_shape().begin(), layer.output_shape().end()),
              (std::vector<int64_t>{1, 256, 14, 14}));
    EXPECT_TRUE(layer.cam_target());
    EXPECT_EQ(layer.ablation_cam(), "suffix");
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(r.layers(r.layers_size() - 1).cam_target());     // fc
  EXPECT_EQ(r.layers(r.layers_size() - 1).ablation_cam(), "");  // not a feature map
  // The served methods, from the tables (tests/server/method_tables_test.cc checks them).
  ASSERT_EQ(r.methods_size(), 15);
  EXPECT_EQ(r.methods(0).name(), "GRAD_CAM");
  EXPECT_EQ(r.methods(0).rpc(), "GradCAM");
  EXPECT_EQ(r.methods(0).title(), "Grad-CAM");
  EXPECT_EQ(r.methods(0).family(), "gradient-weighted");
  EXPECT_EQ(r.methods(14).name(), "XRAI");
  EXPECT_EQ(r.methods(14).rpc(), "Attribute");
  EXPECT_EQ(r.methods(14).family(), "regions");
}

TEST_F(ModelsRpcTest, HealthReportsOverallAndPerModel) {
  auto health = grpc::health::v1::Health::NewStub(*channel_);
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, request, &response);
    return std::pair{status.error_code(), response.status()};
  };
  using Response = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(check(""), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer"), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/resnet18"), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/bad_labels"),
            std::pair(grpc::StatusCode::OK, Response::NOT_SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/unknown").first, grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace xai::server
