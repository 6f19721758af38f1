#include "server/call.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <random>

#include "server/logging.h"
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

}  // namespace

Call::Call(grpc::CallbackServerContext* context, const char* rpc, const grpc::ByteBuffer* request,
           grpc::ByteBuffer* response, const CallTelemetry& telemetry)
    : state_(std::make_shared<State>()) {
  state_->reactor = new CallReactor;
  state_->context = context;
  state_->rpc = rpc;
  state_->id = RequestId(context);
  state_->peer = context->peer();
  state_->deadline = SteadyDeadline(context);
  state_->raw_request = request;
  state_->raw_response = response;
  state_->request_bytes = request->Valid() ? request->Length() : 0;
  state_->telemetry = telemetry;
}

void Call::set_requested_model(const std::string& model) {
  // Kept for the access log only, cut as it writes it: the trace names the served model.
  state_->requested_model = model.substr(0, 128);
}

bool Call::ParseInto(std::unique_ptr<google::protobuf::Message> request) {
  bool parsed = true;  // no bytes: every field at its default
  if (state_->raw_request->Valid() && state_->raw_request->Length() > 0) {
    grpc::ByteBuffer bytes(*state_->raw_request);  // shares gRPC's slices, copies nothing
    grpc::ProtoBufferReader reader(&bytes);
    parsed = request->ParseFromZeroCopyStream(&reader);
  }
  if (!parsed) {
    Finish(core::InvalidArgumentError(
        "the request's " + std::to_string(state_->request_bytes) + " bytes are not a valid " +
        request->GetTypeName() +
        " message: truncated, a field of the wrong type, or a string field that is not UTF-8"));
    return false;
  }
  state_->request = std::move(request);
  return true;
}

bool Call::Admit(const grpc::CallbackServerContext* context, const CallAccess& access, Role needed,
                 const char* what) {
  const auto& metadata = context->client_metadata();
  const auto Metadata = [&metadata](const char* key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? std::string_view()
                                : std::string_view(it->second.data(), it->second.size());
  };
  const std::string_view secret = Metadata(kGatewayMetadata);
  const bool from_gateway =
      !access.gateway_secret.empty() && secret.size() == access.gateway_secret.size() &&
      CRYPTO_memcmp(secret.data(), access.gateway_secret.data(), secret.size()) == 0;
  if (from_gateway) state_->peer = std::string(Metadata(kHttpPeerMetadata).substr(0, 128));
  if (access.require_tls && !from_gateway) {
    const auto security =
        context->auth_context()->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
    const bool tls = !security.empty() && (security[0] == GRPC_SSL_TRANSPORT_SECURITY_TYPE ||
                                           security[0] == GRPC_TLS_TRANSPORT_SECURITY_TYPE);
    if (!tls) {
      Finish(core::PermissionDeniedError(
          "this port serves grpc.health.v1 only; call the TLS port (--address)"));
      return false;
    }
  }
  if (access.peers != nullptr) {
    if (!access.peers->Acquire(state_->peer)) {
      Finish(core::ResourceExhaustedError(
          "too many calls in flight from " + std::string(PeerLimiter::Host(state_->peer)) +
          ": at most " + std::to_string(access.peers->limit()) +
          " at a time per client host (--max-calls-per-peer); retry later"));
      return false;
    }
    state_->counted_in = access.peers;
  }
  if (access.auth == nullptr) return true;
  const std::string_view authorization = Metadata("authorization");
  auto caller = access.auth->Check(authorization, needed, what);
  if (caller.ok()) {
    state_->caller = std::move(*caller);
    return true;
  }
  Finish(caller.status());
  return false;
}

core::CancelledFn Call::cancelled() const {
  CallReactor* reactor = state_->reactor;
  return [reactor] { return reactor->cancelled(); };
}

grpc::ServerUnaryReactor* Call::Finish(const core::Status& given) const {
  State& s = *state_;
  core::Status status = given;
  if (status.ok() && s.response != nullptr) {
    bool own_buffer = false;
    const grpc::Status written = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
        *s.response, s.raw_response, &own_buffer);
    if (!written.ok()) {
      status = core::InternalError("the answer could not be serialized (" +
                                   std::to_string(s.response->ByteSizeLong()) +
                                   " bytes): " + written.error_message());
    }
  }
  return Complete(status);
}

grpc::ServerUnaryReactor* Call::FinishWithBytes(const std::string& bytes) const {
  grpc::Slice slice(bytes.data(), bytes.size());
  *state_->raw_response = grpc::ByteBuffer(&slice, 1);
  return Complete(core::OkStatus());
}

grpc::ServerUnaryReactor* Call::Complete(const core::Status& status) const {
  State& s = *state_;
  if (s.cache != nullptr) s.context->AddInitialMetadata("x-cache", s.cache);
  Report(status.code(), status.ok() && s.raw_response->Valid() ? s.raw_response->Length() : 0);
  if (s.counted_in != nullptr) {
    s.counted_in->Release(s.peer);
    s.counted_in = nullptr;
  }
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

void Call::Report(core::StatusCode code, size_t response_bytes) const {
  const State& s = *state_;
  if (s.telemetry.metrics == nullptr && !s.telemetry.access_log) return;
  CallRecord record;
  record.rpc = s.rpc;
  record.request_id = s.id;
  record.peer = s.peer;
  record.caller = s.caller;
  record.trace = s.trace.get();
  record.code = code;
  record.total = core::Clock::now() - s.started;
  record.request_bytes = s.request_bytes;
  record.response_bytes = response_bytes;
  if (s.telemetry.metrics != nullptr) s.telemetry.metrics->Count(record);
  if (s.telemetry.access_log) LogAccess(record, s.requested_model);
}

}  // namespace xai::server
