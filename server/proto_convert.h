// Conversions between the wire messages (xai.v1) and core's request and result types.
#ifndef XAI_SERVER_PROTO_CONVERT_H_
#define XAI_SERVER_PROTO_CONVERT_H_

#include <vector>

#include "core/explainer.h"
#include "xai/v1/explainer.pb.h"

namespace xai::server {

core::ModelRef FromProto(const xai::v1::ModelSpec& spec);
// Borrows the bytes of `image`: keep it alive while the result is used.
core::ImageRef FromProto(const xai::v1::Image& image);
core::OverlaySpec FromProto(const xai::v1::OverlayOptions& overlay);

// Borrows the image bytes of `request` as above; deadline and request id stay unset.
core::ClassifyRequest FromProto(const xai::v1::ClassifyRequest& request);
core::GradCamRequest FromProto(const xai::v1::GradCAMRequest& request);
core::DecisionPathRequest FromProto(const xai::v1::DecisionPathRequest& request);
core::AttributeRequest FromProto(const xai::v1::AttributeRequest& request);

void ToProto(const core::ModelRef& model, xai::v1::ModelSpec* out);
void ToProto(const core::FloatTensor& tensor, xai::v1::Tensor* out);
void ToProto(const core::GradCamResult& result, xai::v1::GradCAMResponse* out);
void ToProto(const core::FaithfulnessResult& result, xai::v1::FaithfulnessMetrics* out);
void ToProto(const core::FaithfulnessScores& scores, xai::v1::FaithfulnessScores* out);
void ToProto(const core::ClassifyResult& result, xai::v1::ClassifyResponse* out);
void ToProto(const core::AttributeResult& result, xai::v1::AttributeResponse* out);
void ToProto(const core::DecisionPathResult& result, xai::v1::DecisionPathResponse* out);
void ToProto(const core::ModelDescription& description, xai::v1::DescribeModelResponse* out);
void ToProto(const core::ModelVersionStatus& model, xai::v1::ModelStatus* out);
void ToProto(const std::vector<core::ModelVersionStatus>& models, xai::v1::ListModelsResponse* out);
void ToProto(const std::vector<core::ModelStatisticsEntry>& models,
             xai::v1::ModelStatisticsResponse* out);

}  // namespace xai::server

#endif  // XAI_SERVER_PROTO_CONVERT_H_
