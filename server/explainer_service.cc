#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include "server/call.h"
#include "server/proto_convert.h"

namespace xai::server {
namespace {

// Hands `request` to the Explainer's `method` with the call's deadline, id, cancellation
// and trace; the answer fills `response` and finishes the call, on whichever thread it
// comes.
template <typename Request, typename Result, typename Response>
grpc::ServerUnaryReactor* Dispatch(
    core::Explainer& explainer,
    void (core::Explainer::*method)(Request, core::Explainer::Callback<Result>), const Call& call,
    Request request, Response* response) {
  request.context =
      core::RequestContext{call.deadline(), call.id(), call.cancelled(), call.trace()};
  (explainer.*method)(std::move(request), [call, response](core::StatusOr<Result> result) {
    if (result.ok()) ToProto(*result, response);
    call.Finish(result.status(), response);
  });
  return call.reactor();
}

}  // namespace

grpc::ServerUnaryReactor* ExplainerService::Classify(grpc::CallbackServerContext* context,
                                                     const xai::v1::ClassifyRequest* request,
                                                     xai::v1::ClassifyResponse* response) {
  core::ClassifyRequest core_request;
  core_request.model = FromProto(request->model());
  core_request.image = FromProto(request->image());
  core_request.top_k = request->top_k();
  Call call(context, "Classify", request->model().name(), *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "Classify")) return call.reactor();
  return Dispatch(*explainer_, &core::Explainer::Classify, call, std::move(core_request), response);
}

grpc::ServerUnaryReactor* ExplainerService::GradCAM(grpc::CallbackServerContext* context,
                                                    const xai::v1::GradCAMRequest* request,
                                                    xai::v1::GradCAMResponse* response) {
  Call call(context, "GradCAM", request->model().name(), *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "GradCAM")) return call.reactor();
  return Dispatch(*explainer_, &core::Explainer::GradCam, call, FromProto(*request), response);
}

grpc::ServerUnaryReactor* ExplainerService::DecisionPath(
    grpc::CallbackServerContext* context, const xai::v1::DecisionPathRequest* request,
    xai::v1::DecisionPathResponse* response) {
  Call call(context, "DecisionPath", request->model().name(), *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "DecisionPath")) return call.reactor();
  return Dispatch(*explainer_, &core::Explainer::DecisionPath, call, FromProto(*request), response);
}

grpc::ServerUnaryReactor* ExplainerService::ListModels(grpc::CallbackServerContext* context,
                                                       const xai::v1::ListModelsRequest* request,
                                                       xai::v1::ListModelsResponse* response) {
  Call call(context, "ListModels", "", *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "ListModels")) return call.reactor();
  ToProto(explainer_->ListModels(), response);
  return call.Finish(core::OkStatus(), response);
}

grpc::ServerUnaryReactor* ExplainerService::DescribeModel(
    grpc::CallbackServerContext* context, const xai::v1::DescribeModelRequest* request,
    xai::v1::DescribeModelResponse* response) {
  Call call(context, "DescribeModel", request->model().name(), *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "DescribeModel")) return call.reactor();
  auto description = explainer_->DescribeModel(FromProto(request->model()));
  if (description.ok()) {
    ToProto(*description, response);
    call.trace()->model = description->model.name;
    call.trace()->version = description->model.version;
  }
  return call.Finish(description.status(), response);
}

grpc::ServerUnaryReactor* ExplainerService::ModelStatistics(
    grpc::CallbackServerContext* context, const xai::v1::ModelStatisticsRequest* request,
    xai::v1::ModelStatisticsResponse* response) {
  Call call(context, "ModelStatistics", request->model().name(), *request, telemetry_);
  if (!call.Admit(context, access_, Role::kExplain, "ModelStatistics")) return call.reactor();
  auto statistics = explainer_->Statistics(FromProto(request->model()));
  if (statistics.ok()) {
    ToProto(*statistics, response);
    // One model's statistics are that model's call; every model's are no model's.
    if (!request->model().name().empty() && !statistics->empty()) {
      call.trace()->model = (*statistics)[0].model.name;
    }
  }
  return call.Finish(statistics.status(), response);
}

}  // namespace xai::server
