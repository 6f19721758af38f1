#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <random>

#include "server/logging.h"
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

// One RPC in flight: its reactor, id, trace and the bookkeeping every handler shares.
// Copyable (its state is shared), so completions on worker threads carry it.
class Call {
 public:
  Call(grpc::CallbackServerContext* context, const char* rpc, const std::string& model,
       const google::protobuf::Message& request, const CallTelemetry& telemetry)
      : state_(std::make_shared<State>()) {
    state_->reactor = new CallReactor;
    state_->rpc = rpc;
    // Kept for the access log only, cut as it writes it: the trace names the served model.
    state_->requested_model = model.substr(0, 128);
    state_->id = RequestId(context);
    state_->peer = context->peer();
    state_->deadline = SteadyDeadline(context);
    state_->request_bytes = request.ByteSizeLong();
    state_->telemetry = telemetry;
  }

  const std::string& id() const { return state_->id; }
  core::Clock::time_point deadline() const { return state_->deadline; }
  grpc::ServerUnaryReactor* reactor() const { return state_->reactor; }
  // What the engine reports about the call, filled before it answers.
  const std::shared_ptr<core::RequestTrace>& trace() const { return state_->trace; }
  // Whether the caller cancelled; callable from any thread until Finish.
  core::CancelledFn cancelled() const {
    CallReactor* reactor = state_->reactor;
    return [reactor] { return reactor->cancelled(); };
  }

  // Maps and logs `status`, counts the call and finishes the RPC. INTERNAL errors are
  // logged with the request id, which their message repeats; client errors go to DEBUG.
  // `response`: the answer, when `status` is OK.
  grpc::ServerUnaryReactor* Finish(const core::Status& status,
                                   const google::protobuf::Message* response = nullptr) const {
    const State& s = *state_;
    Report(status.code(), status.ok() && response != nullptr ? response->ByteSizeLong() : 0);
    if (status.ok()) {
      s.reactor->Finish(grpc::Status::OK);
    } else if (status.code() == core::StatusCode::kInternal) {
      spdlog::error("[{}] {} model={}: {}", s.id, s.rpc, s.requested_model, status.message());
      s.reactor->Finish(ToGrpcStatus(core::Status(
          status.code(), status.message() + " (request id " + s.id + ", see the server log)")));
    } else {
      spdlog::debug("[{}] {} model={}: {}", s.id, s.rpc, s.requested_model, status.ToString());
      s.reactor->Finish(ToGrpcStatus(status));
    }
    return s.reactor;
  }

 private:
  struct State {
    CallReactor* reactor = nullptr;
    const char* rpc = "";
    std::string requested_model;
    std::string id;
    std::string peer;
    core::Clock::time_point started = core::Clock::now();
    core::Clock::time_point deadline;
    size_t request_bytes = 0;
    std::shared_ptr<core::RequestTrace> trace = std::make_shared<core::RequestTrace>();
    CallTelemetry telemetry;
  };

  void Report(core::StatusCode code, size_t response_bytes) const {
    const State& s = *state_;
    if (s.telemetry.metrics == nullptr && !s.telemetry.access_log) return;
    CallRecord record;
    record.rpc = s.rpc;
    record.request_id = s.id;
    record.peer = s.peer;
    record.trace = s.trace.get();
    record.code = code;
    record.total = core::Clock::now() - s.started;
    record.request_bytes = s.request_bytes;
    record.response_bytes = response_bytes;
    if (s.telemetry.metrics != nullptr) s.telemetry.metrics->Count(record);
    if (s.telemetry.access_log) LogAccess(record, s.requested_model);
  }

  std::shared_ptr<State> state_;
};

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
  return Dispatch(*explainer_, &core::Explainer::Classify,
                  Call(context, "Classify", request->model().name(), *request, telemetry_),
                  std::move(core_request), response);
}

grpc::ServerUnaryReactor* ExplainerService::GradCAM(grpc::CallbackServerContext* context,
                                                    const xai::v1::GradCAMRequest* request,
                                                    xai::v1::GradCAMResponse* response) {
  return Dispatch(*explainer_, &core::Explainer::GradCam,
                  Call(context, "GradCAM", request->model().name(), *request, telemetry_),
                  FromProto(*request), response);
}

grpc::ServerUnaryReactor* ExplainerService::DecisionPath(
    grpc::CallbackServerContext* context, const xai::v1::DecisionPathRequest* request,
    xai::v1::DecisionPathResponse* response) {
  return Dispatch(*explainer_, &core::Explainer::DecisionPath,
                  Call(context, "DecisionPath", request->model().name(), *request, telemetry_),
                  FromProto(*request), response);
}

grpc::ServerUnaryReactor* ExplainerService::ListModels(grpc::CallbackServerContext* context,
                                                       const xai::v1::ListModelsRequest* request,
                                                       xai::v1::ListModelsResponse* response) {
  Call call(context, "ListModels", "", *request, telemetry_);
  ToProto(explainer_->ListModels(), response);
  return call.Finish(core::OkStatus(), response);
}

grpc::ServerUnaryReactor* ExplainerService::DescribeModel(
    grpc::CallbackServerContext* context, const xai::v1::DescribeModelRequest* request,
    xai::v1::DescribeModelResponse* response) {
  Call call(context, "DescribeModel", request->model().name(), *request, telemetry_);
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
