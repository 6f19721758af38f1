#include "server/explainer_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <optional>
#include <type_traits>

#include "server/call.h"
#include "server/explanation_cache.h"
#include "server/proto_convert.h"

namespace xai::server {
namespace {

// Whether the answer depends on the call's deadline, which the cache's key does not hold:
// adaptive Integrated Gradients stops raising its steps when the next level would pass it.
template <typename Request>
bool DependsOnTheDeadline(const Request& request) {
  if constexpr (std::is_same_v<Request, xai::v1::AttributeRequest>) {
    return request.max_approximation_error() > 0;
  } else {
    return false;
  }
}

// Accepts the call, then hands its request to the Explainer's `method` with the call's
// deadline, id, cancellation and trace; the answer fills the response and finishes the
// call, on whichever thread it comes. With the explanation cache, a request the cache
// holds (for the load that serves it now) is answered from memory, and one being computed
// for another call waits for that answer (server/explanation_cache.h).
template <typename Request, typename Response, typename CoreRequest, typename Result>
grpc::ServerUnaryReactor* Queue(
    core::Explainer& explainer, ExplanationCache* cache, Call call,
    grpc::CallbackServerContext* context, const CallAccess& access,
    void (core::Explainer::*method)(CoreRequest, core::Explainer::Callback<Result>)) {
  Response* response = nullptr;
  const Request* request =
      call.Accept<Request>(context, access, Role::kExplain, call.rpc(), &response);
  if (request == nullptr) return call.reactor();
  auto run = [&explainer, method, call, request](core::Explainer::Callback<Result> done) {
    CoreRequest core_request = FromProto(*request);
    core_request.context =
        core::RequestContext{call.deadline(), call.id(), call.cancelled(), call.trace()};
    (explainer.*method)(std::move(core_request), std::move(done));
  };
  std::optional<core::Explainer::CacheIdentity> identity;
  if (cache != nullptr) {
    core::ModelRef ref{request->model().name(), request->model().version()};
    if (auto serving = explainer.ServingIdentity(ref); serving.ok()) identity = *serving;
    // Otherwise the call computes and answers the model's error as ever.
  }
  const std::string key =
      identity.has_value()
          ? ExplanationCache::Key(call.rpc(), identity->load_id, call.raw_request())
          : std::string();
  if (key.empty() || request->no_cache() || !identity->cacheable ||
      DependsOnTheDeadline(*request)) {
    if (identity.has_value()) call.set_cache("bypass");
    run([call, response](core::StatusOr<Result> result) {
      if (result.ok()) ToProto(*result, response);
      call.Finish(result.status());
    });
    return call.reactor();
  }
  // The computation this call makes when it is the one that computes: its answer's bytes
  // and trace go to every call waiting for the same key.
  auto computed = std::make_shared<std::atomic<bool>>(false);
  auto compute = [run, call, computed,
                  version = identity->version](ExplanationCache::Results::Done done) {
    *computed = true;
    run([call, version, done = std::move(done)](core::StatusOr<Result> result) {
      if (!result.ok()) return done(result.status());
      Response answer;
      ToProto(*result, &answer);
      ExplanationCache::Answer cached;
      if (!answer.SerializeToString(&cached.bytes)) {
        return done(core::InternalError("the answer could not be serialized (" +
                                        std::to_string(answer.ByteSizeLong()) + " bytes)"));
      }
      cached.trace = *call.trace();
      cached.keep = cached.trace.version == version;
      done(std::move(cached));
    });
  };
  auto answer = [call, computed,
                 identity = *identity](core::StatusOr<ExplanationCache::Answer> result) {
    if (!result.ok()) {
      // A waiter answered with the computing call's error reports the model it asked.
      core::RequestTrace& trace = *call.trace();
      if (trace.model.empty()) {
        trace.model = identity.name;
        trace.version = identity.version;
      }
      call.Finish(result.status());
      return;
    }
    if (*computed) {
      call.set_cache("miss");
    } else {
      // What the call reports: the model and method that answered, nothing queued.
      core::RequestTrace& trace = *call.trace();
      trace.model = result->trace.model;
      trace.version = result->trace.version;
      trace.method = result->trace.method;
      call.set_cache("hit");
    }
    call.FinishWithBytes(result->bytes);
  };
  cache->results().Get(key, std::move(compute), std::move(answer));
  return call.reactor();
}

}  // namespace

grpc::ServerUnaryReactor* ExplainerService::Classify(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* bytes,
                                                     grpc::ByteBuffer* answer) {
  return Queue<xai::v1::ClassifyRequest, xai::v1::ClassifyResponse>(
      *explainer_, cache_, Call(context, "Classify", bytes, answer, telemetry_), context, access_,
      &core::Explainer::Classify);
}

grpc::ServerUnaryReactor* ExplainerService::GradCAM(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* bytes,
                                                    grpc::ByteBuffer* answer) {
  return Queue<xai::v1::GradCAMRequest, xai::v1::GradCAMResponse>(
      *explainer_, cache_, Call(context, "GradCAM", bytes, answer, telemetry_), context, access_,
      &core::Explainer::GradCam);
}

grpc::ServerUnaryReactor* ExplainerService::Attribute(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* bytes,
                                                      grpc::ByteBuffer* answer) {
  return Queue<xai::v1::AttributeRequest, xai::v1::AttributeResponse>(
      *explainer_, cache_, Call(context, "Attribute", bytes, answer, telemetry_), context, access_,
      &core::Explainer::Attribute);
}

grpc::ServerUnaryReactor* ExplainerService::DecisionPath(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* bytes,
                                                         grpc::ByteBuffer* answer) {
  return Queue<xai::v1::DecisionPathRequest, xai::v1::DecisionPathResponse>(
      *explainer_, cache_, Call(context, "DecisionPath", bytes, answer, telemetry_), context,
      access_, &core::Explainer::DecisionPath);
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
