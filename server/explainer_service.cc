#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include "server/call.h"
#include "server/proto_convert.h"

namespace xai::server {
namespace {

// Accepts the call, then hands its request to the Explainer's `method` with the call's
// deadline, id, cancellation and trace; the answer fills the response and finishes the
// call, on whichever thread it comes.
template <typename Request, typename Response, typename CoreRequest, typename Result>
grpc::ServerUnaryReactor* Queue(
    core::Explainer& explainer, Call call, grpc::CallbackServerContext* context,
    const CallAccess& access,
    void (core::Explainer::*method)(CoreRequest, core::Explainer::Callback<Result>)) {
  Response* response = nullptr;
  const Request* request =
      call.Accept<Request>(context, access, Role::kExplain, call.rpc(), &response);
  if (request == nullptr) return call.reactor();
  CoreRequest core_request = FromProto(*request);
  core_request.context =
      core::RequestContext{call.deadline(), call.id(), call.cancelled(), call.trace()};
  (explainer.*method)(std::move(core_request), [call, response](core::StatusOr<Result> result) {
    if (result.ok()) ToProto(*result, response);
    call.Finish(result.status());
  });
  return call.reactor();
}

}  // namespace

grpc::ServerUnaryReactor* ExplainerService::Classify(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* bytes,
                                                     grpc::ByteBuffer* answer) {
  return Queue<xai::v1::ClassifyRequest, xai::v1::ClassifyResponse>(
      *explainer_, Call(context, "Classify", bytes, answer, telemetry_), context, access_,
      &core::Explainer::Classify);
}

grpc::ServerUnaryReactor* ExplainerService::GradCAM(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* bytes,
                                                    grpc::ByteBuffer* answer) {
  return Queue<xai::v1::GradCAMRequest, xai::v1::GradCAMResponse>(
      *explainer_, Call(context, "GradCAM", bytes, answer, telemetry_), context, access_,
      &core::Explainer::GradCam);
}

grpc::ServerUnaryReactor* ExplainerService::Attribute(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* bytes,
                                                      grpc::ByteBuffer* answer) {
  return Queue<xai::v1::AttributeRequest, xai::v1::AttributeResponse>(
      *explainer_, Call(context, "Attribute", bytes, answer, telemetry_), context, access_,
      &core::Explainer::Attribute);
}

grpc::ServerUnaryReactor* ExplainerService::DecisionPath(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* bytes,
                                                         grpc::ByteBuffer* answer) {
  return Queue<xai::v1::DecisionPathRequest, xai::v1::DecisionPathResponse>(
      *explainer_, Call(context, "DecisionPath", bytes, answer, telemetry_), context, access_,
      &core::Explainer::DecisionPath);
}

grpc::ServerUnaryReactor* ExplainerService::ListModels(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* bytes,
                                                       grpc::ByteBuffer* answer) {
  Call call(context, "ListModels", bytes, answer, telemetry_);
  xai::v1::ListModelsResponse* response = nullptr;
  if (call.Accept<xai::v1::ListModelsRequest>(context, access_, Role::kExplain, "ListModels",
                                              &response) == nullptr) {
    return call.reactor();
  }
  ToProto(explainer_->ListModels(), response);
  return call.Finish(core::OkStatus());
}

grpc::ServerUnaryReactor* ExplainerService::DescribeModel(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* bytes,
                                                          grpc::ByteBuffer* answer) {
  Call call(context, "DescribeModel", bytes, answer, telemetry_);
  xai::v1::DescribeModelResponse* response = nullptr;
  const auto* request = call.Accept<xai::v1::DescribeModelRequest>(context, access_, Role::kExplain,
                                                                   "DescribeModel", &response);
  if (request == nullptr) return call.reactor();
  auto description = explainer_->DescribeModel(FromProto(request->model()));
  if (description.ok()) {
    ToProto(*description, response);
    call.trace()->model = description->model.name;
    call.trace()->version = description->model.version;
  }
  return call.Finish(description.status());
}

grpc::ServerUnaryReactor* ExplainerService::ModelStatistics(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* bytes,
                                                            grpc::ByteBuffer* answer) {
  Call call(context, "ModelStatistics", bytes, answer, telemetry_);
  xai::v1::ModelStatisticsResponse* response = nullptr;
  const auto* request = call.Accept<xai::v1::ModelStatisticsRequest>(
      context, access_, Role::kExplain, "ModelStatistics", &response);
  if (request == nullptr) return call.reactor();
  auto statistics = explainer_->Statistics(FromProto(request->model()));
  if (statistics.ok()) {
    ToProto(*statistics, response);
    // One model's statistics are that model's call; every model's are no model's.
    if (!request->model().name().empty() && !statistics->empty()) {
      call.trace()->model = (*statistics)[0].model.name;
    }
  }
  return call.Finish(statistics.status());
}

}  // namespace xai::server
