// DecisionPath over the wire: the planted chain, the diagram and maps, bad fields; and
// proto3 optional fields left unset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

class DecisionPathRpcTest : public ServerFixture {};

xai::v1::DecisionPathRequest PlantedPathRequest(int target) {
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name("planted");
  auto* t = request.mutable_image()->mutable_tensor();
  t->add_shape(3), t->add_shape(8), t->add_shape(8);
  std::vector<float> values(3 * 8 * 8);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = 0.5f + 0.4f * std::sin(0.7f * i);  // positive
  t->set_data(std::string(reinterpret_cast<char*>(values.data()), values.size() * sizeof(float)));
  request.set_target_class(target);
  return request;
}

// proto3 `optional`: a field left unset is not a field set to 0. An unset target_class is
// the top-1 class (it was class 0); an unset image_weight is 0.5, and 0 the heatmap alone.
TEST_F(DecisionPathRpcTest, UnsetOptionalFieldsTakeTheirDefaultsAndZeroIsZero) {
  // An input whose top-1 class is not 0: the planted input with its values shifted.
  xai::v1::DecisionPathRequest unset;
  xai::v1::DecisionPathResponse top;
  for (int shift = 0; shift < 64 && (top.classes_size() == 0 || top.target_class() == 0); ++shift) {
    unset = PlantedPathRequest(0);
    unset.clear_target_class();
    std::string& data = *unset.mutable_image()->mutable_tensor()->mutable_data();
    std::rotate(data.begin(), data.begin() + 4 * shift, data.end());  // whole floats
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DecisionPath(&context, unset, &top).ok());
  }
  ASSERT_GE(top.classes_size(), 1);
  EXPECT_EQ(top.target_class(), top.classes(0).index());
  ASSERT_NE(top.target_class(), 0) << "no shift of the input has a top-1 class other than 0";
  xai::v1::DecisionPathRequest zero_request = unset;
  zero_request.set_target_class(0);
  xai::v1::DecisionPathResponse zero;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->DecisionPath(&context, zero_request, &zero).ok());
  EXPECT_EQ(zero.target_class(), 0);

  auto overlay = [&](std::optional<float> weight) {
    xai::v1::GradCAMRequest request;
    request.mutable_model()->set_name("tiny");
    request.mutable_image()->set_encoded(Png(24, 20));
    request.mutable_overlay()->set_enabled(true);
    if (weight) request.mutable_overlay()->set_image_weight(*weight);
    grpc::ClientContext context;
    xai::v1::GradCAMResponse response;
    const grpc::Status status = stub_->GradCAM(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.explanations_size() == 1 ? response.explanations(0).overlay_png() : "";
  };
  const std::string by_default = overlay(std::nullopt);
  ASSERT_FALSE(by_default.empty());
  EXPECT_EQ(by_default, overlay(0.5f));
  const std::string heatmap_alone = overlay(0.0f);
  EXPECT_NE(heatmap_alone, by_default);
}

TEST_F(DecisionPathRpcTest, DecisionPathReturnsThePlantedChainOverTheWire) {
  std::ifstream file(xai::testing::FixtureRepo() + "/planted/expected_chains.json");
  ASSERT_TRUE(file);
  const auto expected = nlohmann::json::parse(file).get<std::vector<std::vector<int>>>();
  grpc::ClientContext context;
  xai::v1::DecisionPathResponse response;
  const grpc::Status status = stub_->DecisionPath(&context, PlantedPathRequest(4), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "planted");
  EXPECT_EQ(response.target_class(), 4);
  EXPECT_THAT(
      std::vector<std::string>(response.layers().begin(), response.layers().end()),
      ::testing::ElementsAre("stage1", "stage2", "stage3", "stage4"));  // the config's default
  ASSERT_GE(response.chains_size(), 1);
  EXPECT_EQ(
      std::vector<int>(response.chains(0).channels().begin(), response.chains(0).channels().end()),
      expected[4]);
  EXPECT_LE(response.chains(0).log_score(), 0.0f);
  EXPECT_GE(response.nodes_size(), 4);
  EXPECT_GE(response.edges_size(), 3);
  EXPECT_EQ(response.classes_size(), 5);
}

TEST_F(DecisionPathRpcTest, DecisionPathRendersItsDiagramAndReturnsMapsOnRequest) {
  xai::v1::DecisionPathRequest request = PlantedPathRequest(2);
  request.set_render(true);
  request.set_return_maps(true);
  grpc::ClientContext context;
  xai::v1::DecisionPathResponse response;
  ASSERT_TRUE(stub_->DecisionPath(&context, request, &response).ok());
  ASSERT_FALSE(response.diagram_png().empty());
  const std::vector<uchar> bytes(response.diagram_png().begin(), response.diagram_png().end());
  const cv::Mat diagram = cv::imdecode(bytes, cv::IMREAD_COLOR);
  ASSERT_FALSE(diagram.empty());
  EXPECT_GT(diagram.cols, diagram.rows);  // four columns of tiles, side by side
  // The best chain is drawn in red (BGR 40, 40, 220).
  cv::Mat red;
  cv::inRange(diagram, cv::Scalar(20, 20, 200), cv::Scalar(60, 60, 240), red);
  EXPECT_GT(cv::countNonZero(red), 200);
  for (const auto& node : response.nodes()) {
    ASSERT_EQ(node.map().shape_size(), 2);
    EXPECT_EQ(node.map().shape(0), 8);
    EXPECT_EQ(node.map().data().size(), 8u * 8u * sizeof(float));
  }
  // Without asking: neither.
  grpc::ClientContext plain_context;
  xai::v1::DecisionPathResponse plain;
  ASSERT_TRUE(stub_->DecisionPath(&plain_context, PlantedPathRequest(2), &plain).ok());
  EXPECT_TRUE(plain.diagram_png().empty());
  EXPECT_FALSE(plain.nodes(0).has_map());
}

TEST_F(DecisionPathRpcTest, DecisionPathBadFieldsAreInvalidArguments) {
  struct BadField {
    std::function<void(xai::v1::DecisionPathRequest*)> edit;
    grpc::StatusCode code;
    const char* message;
  };
  const std::vector<BadField> cases = {
      {[](auto* r) { r->set_target_class(6); }, grpc::StatusCode::INVALID_ARGUMENT,
       "target_class = 6"},
      {[](auto* r) { r->set_target_class(-2); }, grpc::StatusCode::INVALID_ARGUMENT,
       "target_class = -2"},
      {[](auto* r) { r->set_threshold(1.5f); }, grpc::StatusCode::INVALID_ARGUMENT,
       "threshold must be in (0, 1]"},
      {[](auto* r) { r->set_threshold(-0.1f); }, grpc::StatusCode::INVALID_ARGUMENT, "threshold"},
      {[](auto* r) { r->set_threshold(std::nanf("")); }, grpc::StatusCode::INVALID_ARGUMENT,
       "threshold"},
      {[](auto* r) { r->set_max_channels(-1); }, grpc::StatusCode::INVALID_ARGUMENT,
       "max_channels must be in [0, 64]"},
      {[](auto* r) { r->set_max_channels(65); }, grpc::StatusCode::INVALID_ARGUMENT,
       "max_channels"},
      {[](auto* r) { r->set_top_chains(-3); }, grpc::StatusCode::INVALID_ARGUMENT,
       "top_chains must be in [0, 64]"},
      {[](auto* r) {
         r->add_layers("stage2");
         r->add_layers("stage1");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layers[1] \"stage1\" runs before layers[0] \"stage2\""},
      {[](auto* r) {
         r->add_layers("stage2");
         r->add_layers("stage2");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layers[1] \"stage2\" is repeated"},
      {[](auto* r) { r->add_layers("stage9"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "layers[0] \"stage9\" is not a module"},
      {[](auto* r) { r->add_layers("fc"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "is not a CAM layer"},
  };
  for (const BadField& c : cases) {
    xai::v1::DecisionPathRequest request = PlantedPathRequest(0);
    c.edit(&request);
    grpc::ClientContext context;
    xai::v1::DecisionPathResponse response;
    const grpc::Status status = stub_->DecisionPath(&context, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.message << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace xai::server
