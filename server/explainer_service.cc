#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <random>

#include "server/proto_convert.h"
#include "server/status_mapping.h"

namespace xai::server {
namespace {

// A request id: the caller's x-request-id metadata when sent, else a process-unique one.
std::string RequestId(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end() && it->second.size() <= 128) {
    return std::string(it->second.data(), it->second.size());
  }
  static const uint32_t prefix = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  char id[32];
  std::snprintf(id, sizeof(id), "%08x-%llu", prefix,
                static_cast<unsigned long long>(counter.fetch_add(1) + 1));
  return id;
}

core::Clock::time_point SteadyDeadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return core::Clock::time_point::max();
  }
  const auto left = deadline - std::chrono::system_clock::now();
  return core::Clock::now() + std::chrono::duration_cast<core::Clock::duration>(left);
}

// The reactor of one unary call. gRPC's DefaultReactor does not watch for cancellation,
// so queued requests could not learn that their caller gave up; this one does. gRPC
// calls OnDone after Finish completes, and only then is it deleted.
class CallReactor : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }
  void OnDone() override { delete this; }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// One RPC in flight: its reactor, id and the bookkeeping every handler shares. Copyable,
// so completions on worker threads carry it.
class Call {
 public:
  Call(grpc::CallbackServerContext* context, const char* method, std::string model)
      : reactor_(new CallReactor),
        method_(method),
        model_(std::move(model)),
        id_(RequestId(context)),
        deadline_(SteadyDeadline(context)) {}

  const std::string& id() const { return id_; }
  core::Clock::time_point deadline() const { return deadline_; }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  // Whether the caller cancelled; callable from any thread until Finish.
  core::CancelledFn cancelled() const {
    CallReactor* reactor = reactor_;
    return [reactor] { return reactor->cancelled(); };
  }

  // Maps and logs `status` and finishes the RPC. INTERNAL errors are logged with the
  // request id, which their message repeats; client errors go to DEBUG only.
  grpc::ServerUnaryReactor* Finish(const core::Status& status) const {
    if (status.ok()) {
      reactor_->Finish(grpc::Status::OK);
      return reactor_;
    }
    if (status.code() == core::StatusCode::kInternal) {
      spdlog::error("[{}] {} model={}: {}", id_, method_, model_, status.message());
      reactor_->Finish(ToGrpcStatus(core::Status(
          status.code(), status.message() + " (request id " + id_ + ", see the server log)")));
    } else {
      spdlog::debug("[{}] {} model={}: {}", id_, method_, model_, status.ToString());
      reactor_->Finish(ToGrpcStatus(status));
    }
    return reactor_;
  }

 private:
  CallReactor* reactor_;
  const char* method_;
  std::string model_;
  std::string id_;
  core::Clock::time_point deadline_;
};

// Hands `request` to the Explainer's `method` with the call's deadline, id and cancellation;
// the answer fills `response` and finishes the call, on whichever thread it comes.
template <typename Request, typename Result, typename Response>
grpc::ServerUnaryReactor* Dispatch(
    core::Explainer& explainer,
    void (core::Explainer::*method)(Request, core::Explainer::Callback<Result>), const Call& call,
    Request request, Response* response) {
  request.context = core::RequestContext{call.deadline(), call.id(), call.cancelled()};
  (explainer.*method)(std::move(request), [call, response](core::StatusOr<Result> result) {
    if (result.ok()) ToProto(*result, response);
    call.Finish(result.status());
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
  return Dispatch(*explainer_, &core::Explainer::Classify,
                  Call(context, "Classify", request->model().name()), std::move(core_request),
                  response);
}

grpc::ServerUnaryReactor* ExplainerService::GradCAM(grpc::CallbackServerContext* context,
                                                    const xai::v1::GradCAMRequest* request,
                                                    xai::v1::GradCAMResponse* response) {
  return Dispatch(*explainer_, &core::Explainer::GradCam,
                  Call(context, "GradCAM", request->model().name()), FromProto(*request), response);
}

grpc::ServerUnaryReactor* ExplainerService::DecisionPath(
    grpc::CallbackServerContext* context, const xai::v1::DecisionPathRequest* request,
    xai::v1::DecisionPathResponse* response) {
  return Dispatch(*explainer_, &core::Explainer::DecisionPath,
                  Call(context, "DecisionPath", request->model().name()), FromProto(*request),
                  response);
}

grpc::ServerUnaryReactor* ExplainerService::ListModels(grpc::CallbackServerContext* context,
                                                       const xai::v1::ListModelsRequest*,
                                                       xai::v1::ListModelsResponse* response) {
  ToProto(explainer_->ListModels(), response);
  return Call(context, "ListModels", "").Finish(core::OkStatus());
}

grpc::ServerUnaryReactor* ExplainerService::DescribeModel(
    grpc::CallbackServerContext* context, const xai::v1::DescribeModelRequest* request,
    xai::v1::DescribeModelResponse* response) {
  Call call(context, "DescribeModel", request->model().name());
  auto description = explainer_->DescribeModel(FromProto(request->model()));
  if (description.ok()) ToProto(*description, response);
  return call.Finish(description.status());
}

grpc::ServerUnaryReactor* ExplainerService::ModelStatistics(
    grpc::CallbackServerContext* context, const xai::v1::ModelStatisticsRequest* request,
    xai::v1::ModelStatisticsResponse* response) {
  Call call(context, "ModelStatistics", request->model().name());
  auto statistics = explainer_->Statistics(FromProto(request->model()));
  if (statistics.ok()) ToProto(*statistics, response);
  return call.Finish(statistics.status());
}

}  // namespace xai::server
