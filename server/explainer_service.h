// The xai.v1.Explainer gRPC service: thin adapters over core::Explainer on the callback
// API. Handlers convert, hand the work to core, and return; core's completion finishes
// the call, so gRPC threads never wait on a model.
#ifndef XAI_SERVER_EXPLAINER_SERVICE_H_
#define XAI_SERVER_EXPLAINER_SERVICE_H_

#include "core/explainer.h"
#include "server/call.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {

class ExplainerService final : public xai::v1::Explainer::CallbackService {
 public:
  // `explainer`, `telemetry.metrics` and `access.auth` must outlive the service.
  explicit ExplainerService(core::Explainer* explainer, CallTelemetry telemetry = {},
                            CallAccess access = {})
      : explainer_(explainer), telemetry_(telemetry), access_(access) {}

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const xai::v1::ClassifyRequest* request,
                                     xai::v1::ClassifyResponse* response) override;
  grpc::ServerUnaryReactor* GradCAM(grpc::CallbackServerContext* context,
                                    const xai::v1::GradCAMRequest* request,
                                    xai::v1::GradCAMResponse* response) override;
  grpc::ServerUnaryReactor* DecisionPath(grpc::CallbackServerContext* context,
                                         const xai::v1::DecisionPathRequest* request,
                                         xai::v1::DecisionPathResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const xai::v1::ListModelsRequest* request,
                                       xai::v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeModel(grpc::CallbackServerContext* context,
                                          const xai::v1::DescribeModelRequest* request,
                                          xai::v1::DescribeModelResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const xai::v1::ModelStatisticsRequest* request,
                                            xai::v1::ModelStatisticsResponse* response) override;

 private:
  core::Explainer* explainer_;
  const CallTelemetry telemetry_;
  const CallAccess access_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_EXPLAINER_SERVICE_H_
