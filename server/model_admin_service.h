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

class ModelAdminService final : public xai::v1::ModelAdmin::CallbackService {
 public:
  // Every pointer must outlive the service.
  ModelAdminService(core::Explainer* explainer, LifecycleThread* lifecycle, CallTelemetry telemetry,
                    CallAccess access)
      : explainer_(explainer), lifecycle_(lifecycle), telemetry_(telemetry), access_(access) {}

  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const xai::v1::LoadModelRequest* request,
                                      xai::v1::LoadModelResponse* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const xai::v1::UnloadModelRequest* request,
                                        xai::v1::UnloadModelResponse* response) override;
  grpc::ServerUnaryReactor* ReloadModel(grpc::CallbackServerContext* context,
                                        const xai::v1::ReloadModelRequest* request,
                                        xai::v1::ReloadModelResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const xai::v1::AdminListModelsRequest* request,
                                       xai::v1::AdminListModelsResponse* response) override;

 private:
  // The shared path of the three changes: checks, then runs `change` on the lifecycle
  // thread and answers with the model's versions.
  template <typename Response>
  grpc::ServerUnaryReactor* Change(grpc::CallbackServerContext* context, const char* rpc,
                                   const google::protobuf::Message& request,
                                   const std::string& name,
                                   core::Status (core::Explainer::*change)(const std::string&),
                                   Response* response);

  core::Explainer* explainer_;
  LifecycleThread* lifecycle_;
  const CallTelemetry telemetry_;
  const CallAccess access_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_MODEL_ADMIN_SERVICE_H_
