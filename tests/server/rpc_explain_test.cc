// GradCAM and Attribute over the wire: maps per target, metrics, attributions and their
// error, a bad layer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

class ExplainRpcTest : public ServerFixture {};

TEST_F(ExplainRpcTest, GradCamReturnsMapsPerTargetOverTheWire) {
  grpc::ClientContext context;
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18_scripted");
  request.mutable_image()->set_encoded(SampleImage());
  request.add_target_classes(7);
  request.add_target_classes(3);
  request.add_layers("layer3");
  request.set_method(xai::v1::GRAD_CAM_PLUS_PLUS);
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "resnet18_scripted");
  EXPECT_EQ(response.classes_size(), 5);
  ASSERT_EQ(response.explanations_size(), 2);
  EXPECT_EQ(response.explanations(0).target_class(), 7);
  EXPECT_EQ(response.explanations(1).target_class(), 3);
  const xai::v1::Tensor& cam = response.explanations(0).cam();
  EXPECT_EQ(std::vector<int64_t>(cam.shape().begin(), cam.shape().end()),
            (std::vector<int64_t>{224, 224}));
  ASSERT_EQ(cam.data().size(), 224u * 224u * 4u);
  std::vector<float> values(224 * 224);
  std::memcpy(values.data(), cam.data().data(), cam.data().size());
  EXPECT_GE(*std::min_element(values.begin(), values.end()), 0.0f);
  EXPECT_LE(*std::max_element(values.begin(), values.end()), 1.0f);
  const xai::v1::Tensor& raw = response.explanations(1).raw();
  EXPECT_EQ(std::vector<int64_t>(raw.shape().begin(), raw.shape().end()),
            (std::vector<int64_t>{14, 14}));
  EXPECT_EQ(raw.data().size(), 14u * 14u * 4u);
  // eigen_smooth reaches the engine: another map of the same shape and range.
  request.set_eigen_smooth(true);
  grpc::ClientContext smooth_context;
  xai::v1::GradCAMResponse smoothed;
  ASSERT_TRUE(stub_->GradCAM(&smooth_context, request, &smoothed).ok());
  ASSERT_EQ(smoothed.explanations_size(), 2);
  const std::string& smooth_cam = smoothed.explanations(0).cam().data();
  ASSERT_EQ(smooth_cam.size(), cam.data().size());
  EXPECT_NE(smooth_cam, cam.data());
  std::memcpy(values.data(), smooth_cam.data(), smooth_cam.size());
  EXPECT_GE(*std::min_element(values.begin(), values.end()), 0.0f);
  EXPECT_FLOAT_EQ(*std::max_element(values.begin(), values.end()), 1.0f);
}

TEST_F(ExplainRpcTest, GradCamMetricsComeBackOverTheWire) {
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(SampleImage());
  request.add_target_classes(7);
  request.mutable_metrics()->set_enabled(true);
  request.mutable_metrics()->set_steps(3);
  request.mutable_metrics()->set_random_baseline(true);
  grpc::ClientContext context;
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.explanations_size(), 1);
  ASSERT_TRUE(response.explanations(0).has_metrics());
  const xai::v1::FaithfulnessMetrics& m = response.explanations(0).metrics();
  EXPECT_GT(m.probability(), 0.0f);
  ASSERT_EQ(m.map().deletion_curve_size(), 4);
  ASSERT_EQ(m.map().insertion_curve_size(), 4);
  EXPECT_EQ(m.map().deletion_curve(0), m.probability());
  EXPECT_EQ(m.map().insertion_curve(0), m.blurred_probability());
  EXPECT_GT(m.map().top20_probability(), 0.0f);
  ASSERT_TRUE(m.has_random());
  EXPECT_EQ(m.random().deletion_curve_size(), 4);
  // Steps outside [1, 256]: INVALID_ARGUMENT naming the field.
  request.mutable_metrics()->set_steps(300);
  grpc::ClientContext bad_context;
  const grpc::Status bad = stub_->GradCAM(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("metrics.steps must be in [1, 256]"));
}

TEST_F(ExplainRpcTest, AttributeReturnsAttributionsAndTheirErrorOverTheWire) {
  xai::v1::AttributeRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(SampleImage());
  request.add_target_classes(7);
  request.add_target_classes(3);
  request.set_steps(4);
  request.add_baselines(xai::v1::BLACK);
  request.set_rule(xai::v1::RIEMANN_MIDDLE);
  grpc::ClientContext context;
  xai::v1::AttributeResponse response;
  const grpc::Status status = stub_->Attribute(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "resnet18");
  EXPECT_EQ(response.classes_size(), 5);
  ASSERT_EQ(response.attributions_size(), 2);
  const xai::v1::Attribution& a = response.attributions(0);
  EXPECT_EQ(a.target_class(), 7);
  EXPECT_EQ(std::vector<int64_t>(a.attribution().shape().begin(), a.attribution().shape().end()),
            (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(a.attribution().data().size(), 3u * 224 * 224 * 4);
  EXPECT_EQ(std::vector<int64_t>(a.map().shape().begin(), a.map().shape().end()),
            (std::vector<int64_t>{224, 224}));
  EXPECT_EQ(a.steps(), 4);
  EXPECT_GT(a.approximation_error(), 0.0f);
  EXPECT_NEAR(a.approximation_error(),
              std::abs(a.convergence_delta()) / std::abs(a.logit() - a.baseline_logit()), 1e-4);
  // XRAI: the same attribution shape, a map of region gains; bad steps: INVALID_ARGUMENT.
  request.set_method(xai::v1::XRAI);
  grpc::ClientContext xrai_context;
  ASSERT_TRUE(stub_->Attribute(&xrai_context, request, &response).ok());
  const xai::v1::Attribution& x = response.attributions(0);
  EXPECT_EQ(x.map().data().size(), 224u * 224 * 4);
  EXPECT_EQ(x.steps(), 4);
  EXPECT_GT(x.approximation_error(), 0.0f);
  request.set_method(xai::v1::SALIENCY);
  request.set_steps(-3);
  grpc::ClientContext bad_context;
  const grpc::Status bad = stub_->Attribute(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("steps must be in [1, 1024] (0: 50), got -3"));
}

TEST_F(ExplainRpcTest, GradCamBadLayerIsInvalidArgument) {
  grpc::ClientContext context;
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(Png(32, 32));
  request.add_layers("layer9");
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("closest CAM layers: layer1"));
}

}  // namespace
}  // namespace xai::server
