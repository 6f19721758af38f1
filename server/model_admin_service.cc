#include "server/model_admin_service.h"

#include <map>

#include "core/repository/model_config.h"
#include "server/proto_convert.h"

namespace xai::server {
namespace {

// Admin calls name a model, checked before the change runs: the request is bad only when
// the name is. Any failure of the change is the model's state or files:
// FAILED_PRECONDITION with the repository's reason, except NOT_FOUND (no such model) and
// UNAVAILABLE (shutting down), which keep their codes.
core::Status AdminStatus(const core::Status& status) {
  if (status.ok() || status.code() == core::StatusCode::kNotFound ||
      status.code() == core::StatusCode::kUnavailable) {
    return status;
  }
  return core::FailedPreconditionError(status.message());
}

void AddVersions(const std::vector<core::ModelVersionStatus>& all, const std::string& name,
                 google::protobuf::RepeatedPtrField<xai::v1::ModelStatus>* out) {
  for (const core::ModelVersionStatus& m : all) {
    if (m.name == name) ToProto(m, out->Add());
  }
}

}  // namespace

template <typename Request, typename Response>
grpc::ServerUnaryReactor* ModelAdminService::Change(
    grpc::CallbackServerContext* context, const char* rpc, const grpc::ByteBuffer* bytes,
    grpc::ByteBuffer* answer, core::Status (core::Explainer::*change)(const std::string&)) {
  Call call(context, rpc, bytes, answer, telemetry_);
  Response* response = nullptr;
  const Request* request =
      call.Accept<Request>(context, access_, Role::kAdmin, "ModelAdmin", &response);
  if (request == nullptr) return call.reactor();
  const std::string name = request->name();
  if (core::Status valid = core::CheckModelName("name", name); !valid.ok()) {
    return call.Finish(valid);
  }
  core::Explainer* explainer = explainer_;
  lifecycle_->Post([explainer, call, name, change, response](bool stopped) {
    if (stopped) {
      call.Finish(core::UnavailableError("the server is shutting down"));
      return;
    }
    const core::Status status = AdminStatus((explainer->*change)(name));
    AddVersions(explainer->ListModels(), name, response->mutable_versions());
    call.trace()->model = name;
    call.Finish(status);
  });
  return call.reactor();
}

grpc::ServerUnaryReactor* ModelAdminService::LoadModel(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return Change<xai::v1::LoadModelRequest, xai::v1::LoadModelResponse>(
      context, "LoadModel", request, response, &core::Explainer::LoadModel);
}

grpc::ServerUnaryReactor* ModelAdminService::UnloadModel(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Change<xai::v1::UnloadModelRequest, xai::v1::UnloadModelResponse>(
      context, "UnloadModel", request, response, &core::Explainer::UnloadModel);
}

grpc::ServerUnaryReactor* ModelAdminService::ReloadModel(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Change<xai::v1::ReloadModelRequest, xai::v1::ReloadModelResponse>(
      context, "ReloadModel", request, response, &core::Explainer::ReloadModel);
}

grpc::ServerUnaryReactor* ModelAdminService::ListModels(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* bytes,
                                                        grpc::ByteBuffer* answer) {
  Call call(context, "AdminListModels", bytes, answer, telemetry_);
  xai::v1::AdminListModelsResponse* response = nullptr;
  if (call.Accept<xai::v1::AdminListModelsRequest>(context, access_, Role::kAdmin, "ModelAdmin",
                                                   &response) == nullptr) {
    return call.reactor();
  }
  const std::vector<core::ModelVersionStatus> all = explainer_->ListModels();
  std::map<std::string, int64_t> newest_ready;
  for (const core::ModelVersionStatus& m : all) {
    if (m.state == core::ModelState::kReady) newest_ready[m.name] = m.version;  // sorted
  }
  for (const core::ModelVersionStatus& m : all) {
    xai::v1::AdminModelStatus* s = response->add_models();
    ToProto(m, s->mutable_status());
    const auto newest = newest_ready.find(m.name);
    s->set_serves_default(newest != newest_ready.end() && newest->second == m.version);
    s->set_queued(m.queued);
    s->set_instances(m.instances);
    s->set_busy_instances(m.busy_instances);
  }
  return call.Finish(core::OkStatus());
}

}  // namespace xai::server
