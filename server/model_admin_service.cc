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

template <typename Response>
grpc::ServerUnaryReactor* ModelAdminService::Change(
    grpc::CallbackServerContext* context, const char* rpc, const google::protobuf::Message& request,
    const std::string& name, core::Status (core::Explainer::*change)(const std::string&),
    Response* response) {
  Call call(context, rpc, name, request, telemetry_);
  if (!call.Admit(context, access_, Role::kAdmin, "ModelAdmin")) return call.reactor();
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
    call.Finish(status, response);
  });
  return call.reactor();
}

grpc::ServerUnaryReactor* ModelAdminService::LoadModel(grpc::CallbackServerContext* context,
                                                       const xai::v1::LoadModelRequest* request,
                                                       xai::v1::LoadModelResponse* response) {
  return Change(context, "LoadModel", *request, request->name(), &core::Explainer::LoadModel,
                response);
}

grpc::ServerUnaryReactor* ModelAdminService::UnloadModel(grpc::CallbackServerContext* context,
                                                         const xai::v1::UnloadModelRequest* request,
                                                         xai::v1::UnloadModelResponse* response) {
  return Change(context, "UnloadModel", *request, request->name(), &core::Explainer::UnloadModel,
                response);
}

grpc::ServerUnaryReactor* ModelAdminService::ReloadModel(grpc::CallbackServerContext* context,
                                                         const xai::v1::ReloadModelRequest* request,
                                                         xai::v1::ReloadModelResponse* response) {
  return Change(context, "ReloadModel", *request, request->name(), &core::Explainer::ReloadModel,
                response);
}

grpc::ServerUnaryReactor* ModelAdminService::ListModels(
    grpc::CallbackServerContext* context, const xai::v1::AdminListModelsRequest* request,
    xai::v1::AdminListModelsResponse* response) {
  Call call(context, "AdminListModels", "", *request, telemetry_);
  if (!call.Admit(context, access_, Role::kAdmin, "ModelAdmin")) return call.reactor();
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
  return call.Finish(core::OkStatus(), response);
}

}  // namespace xai::server
