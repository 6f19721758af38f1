// The xai.v1.Explainer gRPC service: thin adapters over core::Explainer on the callback
// API. Handlers convert, hand the work to core, and return; core's completion finishes
// the call, so gRPC threads never wait on a model.
#ifndef XAI_SERVER_EXPLAINER_SERVICE_H_
#define XAI_SERVER_EXPLAINER_SERVICE_H_

#include "core/explainer.h"
#include "server/call.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {

class ExplanationCache;

// Every method raw: Call parses the request (server/call.h says why). A new RPC joins this
// list, or gRPC would parse its requests itself.
using RawExplainerService = xai::v1::Explainer::WithRawCallbackMethod_Classify<
    xai::v1::Explainer::WithRawCallbackMethod_GradCAM<
        xai::v1::Explainer::WithRawCallbackMethod_Attribute<
            xai::v1::Explainer::WithRawCallbackMethod_DecisionPath<
                xai::v1::Explainer::WithRawCallbackMethod_ListModels<
                    xai::v1::Explainer::WithRawCallbackMethod_DescribeModel<
                        xai::v1::Explainer::WithRawCallbackMethod_ModelStatistics<
                            xai::v1::Explainer::Service>>>>>>>;

class ExplainerService final : public RawExplainerService {
 public:
  // `explainer`, `telemetry.metrics` and `access.auth` must outlive the service.
  // `cache`: the explanation cache (--cache-bytes); null: none.
  explicit ExplainerService(core::Explainer* explainer, CallTelemetry telemetry = {},
                            CallAccess access = {}, ExplanationCache* cache = nullptr)
      : explainer_(explainer), telemetry_(telemetry), access_(access), cache_(cache) {}

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GradCAM(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Attribute(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DecisionPath(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DescribeModel(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;

 private:
  core::Explainer* explainer_;
  const CallTelemetry telemetry_;
  const CallAccess access_;
  ExplanationCache* const cache_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_EXPLAINER_SERVICE_H_
