// The xai.v1.ModelAdmin gRPC service (proto/xai/v1/model_admin.proto): load, unload and
// reload models while the server serves. Handlers check the admin role and hand the work
// to the lifecycle thread, which answers the call when the models are loaded or drained.
#ifndef XAI_SERVER_MODEL_ADMIN_SERVICE_H_
#define XAI_SERVER_MODEL_ADMIN_SERVICE_H_

#include "core/explainer.h"
#include "server/call.h"
#include "server/lifecycle.h"
#include "xai/v1/model_admin.grpc.pb.h"

namespace xai::server {

// Every method raw: Call parses the request (server/call.h says why).
using RawModelAdminService = xai::v1::ModelAdmin::WithRawCallbackMethod_LoadModel<
    xai::v1::ModelAdmin::WithRawCallbackMethod_UnloadModel<
        xai::v1::ModelAdmin::WithRawCallbackMethod_ReloadModel<
            xai::v1::ModelAdmin::WithRawCallbackMethod_ListModels<xai::v1::ModelAdmin::Service>>>>;

class ModelAdminService final : public RawModelAdminService {
 public:
  // Every pointer must outlive the service.
  ModelAdminService(core::Explainer* explainer, LifecycleThread* lifecycle, CallTelemetry telemetry,
                    CallAccess access)
      : explainer_(explainer), lifecycle_(lifecycle), telemetry_(telemetry), access_(access) {}

  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReloadModel(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

 private:
  // The shared path of the three changes: checks, then runs `change` on the lifecycle
  // thread and answers with the model's versions.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Change(grpc::CallbackServerContext* context, const char* rpc,
                                   const grpc::ByteBuffer* bytes, grpc::ByteBuffer* answer,
                                   core::Status (core::Explainer::*change)(const std::string&));

  core::Explainer* explainer_;
  LifecycleThread* lifecycle_;
  const CallTelemetry telemetry_;
  const CallAccess access_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_MODEL_ADMIN_SERVICE_H_
