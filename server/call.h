// One unary RPC in flight on the callback API, as every service's handler sees it: its
// reactor (which watches for cancellation), request id, deadline and trace, the access
// check, the request parsed from its bytes, and Finish, which maps the status, counts the
// call, writes its access line and answers.
//
// The services register every method raw (gRPC's WithRawCallbackMethod_*): gRPC hands over
// the request's bytes and Call parses them. Bytes that are not a valid message (truncated, a
// string field that is not UTF-8) then get INVALID_ARGUMENT with a reason and are counted
// and logged like any call; gRPC's own parsing answers them UNIMPLEMENTED, with no message,
// and no handler ever sees them.
#ifndef XAI_SERVER_CALL_H_
#define XAI_SERVER_CALL_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "core/base/status.h"
#include "core/requests/request_context.h"
#include "server/auth.h"
#include "server/peer_limiter.h"
#include "server/server_metrics.h"

namespace xai::server {

// What every answered call reports besides its answer.
struct CallTelemetry {
  ServerMetrics* metrics = nullptr;  // counts every call; null: none
  bool access_log = true;            // one INFO line per call (server/logging.h)
};

// The metadata by which the REST gateway (server/rest_gateway.h) marks its in-process calls:
// the process's gateway secret, and the HTTP client's address as a gRPC peer string.
inline constexpr char kGatewayMetadata[] = "x-xai-gateway";
inline constexpr char kHttpPeerMetadata[] = "x-xai-http-peer";

// Who may call: with `auth` set, every RPC needs a token of its service's role; null:
// every caller may. With `require_tls`, calls that did not come over TLS (on the plaintext
// health port) are refused. A call carrying `gateway_secret` (when set) in
// kGatewayMetadata is the REST gateway's: its peer is the HTTP client's address, and it
// came over the HTTP port, which speaks TLS whenever the gRPC port does.
struct CallAccess {
  const Authenticator* auth = nullptr;
  bool require_tls = false;
  PeerLimiter* peers = nullptr;  // calls in flight per caller host; null: no limit
  std::string gateway_secret;    // empty: no gateway
};

// gRPC's DefaultReactor does not watch for cancellation, so queued requests could not
// learn that their caller gave up; this one does. gRPC calls OnDone after Finish
// completes, and only then is it deleted.
class CallReactor : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }
  void OnDone() override { delete this; }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// Copyable (its state is shared), so completions on worker threads carry it.
class Call {
 public:
  // `request`: the bytes gRPC received, read by Parse; `response`: where Finish writes the
  // answer's bytes. Both are gRPC's and live until the call is finished.
  Call(grpc::CallbackServerContext* context, const char* rpc, const grpc::ByteBuffer* request,
       grpc::ByteBuffer* response, const CallTelemetry& telemetry);

  // Admits the call (Admit), then parses its request into a message the call owns until
  // it is answered (views into it, such as image bytes, stay valid until then) and makes
  // the empty response the call owns and answers with. Null when the call was answered
  // already (refused, or INVALID_ARGUMENT for bytes that are not a valid Request): the
  // handler returns reactor() at once.
  template <typename Request, typename Response>
  const Request* Accept(const grpc::CallbackServerContext* context, const CallAccess& access,
                        Role needed, const char* what, Response** response) {
    if (!Admit(context, access, needed, what)) return nullptr;
    auto request = std::make_unique<Request>();
    const Request* parsed = request.get();
    if (!ParseInto(std::move(request))) return nullptr;
    if constexpr (NamesModelSpec<Request>::value) {
      set_requested_model(parsed->model().name());
    } else if constexpr (NamesModel<Request>::value) {
      set_requested_model(parsed->name());
    }
    auto answer = std::make_unique<Response>();
    *response = answer.get();
    state_->response = std::move(answer);
    return parsed;
  }

  const char* rpc() const { return state_->rpc; }
  // The request's bytes as received.
  const grpc::ByteBuffer& raw_request() const { return *state_->raw_request; }
  const std::string& id() const { return state_->id; }
  core::Clock::time_point deadline() const { return state_->deadline; }
  grpc::ServerUnaryReactor* reactor() const { return state_->reactor; }
  // What the engine reports about the call, filled before it answers.
  const std::shared_ptr<core::RequestTrace>& trace() const { return state_->trace; }
  // Whether the caller cancelled; callable from any thread until Finish.
  core::CancelledFn cancelled() const;

  // Maps and logs `status`, counts the call and finishes the RPC. INTERNAL errors are
  // logged with the request id, which their message repeats; client errors go to DEBUG.
  // When `status` is OK, the response Parse made is the answer.
  grpc::ServerUnaryReactor* Finish(const core::Status& status) const;
  // Finishes the RPC with `bytes`, an answer serialized before (the explanation cache's),
  // as Finish with OK.
  grpc::ServerUnaryReactor* FinishWithBytes(const std::string& bytes) const;
  // The answer's x-cache metadata: "hit", "miss" or "bypass" (a string literal); unset:
  // none. Before Finish.
  void set_cache(const char* cache) const { state_->cache = cache; }

 private:
  // Reports the call and finishes the RPC with `status` (the response is written).
  grpc::ServerUnaryReactor* Complete(const core::Status& status) const;

  struct State {
    CallReactor* reactor = nullptr;
    grpc::CallbackServerContext* context = nullptr;
    const char* cache = nullptr;  // x-cache metadata; null: none
    const char* rpc = "";
    std::string requested_model;
    std::string id;
    std::string peer;
    std::string caller;
    PeerLimiter* counted_in = nullptr;  // set while the call counts against its peer
    core::Clock::time_point started = core::Clock::now();
    core::Clock::time_point deadline;
    size_t request_bytes = 0;
    const grpc::ByteBuffer* raw_request = nullptr;
    grpc::ByteBuffer* raw_response = nullptr;
    std::unique_ptr<google::protobuf::Message> request;
    std::unique_ptr<google::protobuf::Message> response;
    std::shared_ptr<core::RequestTrace> trace = std::make_shared<core::RequestTrace>();
    CallTelemetry telemetry;
  };

  template <typename T, typename = void>
  struct NamesModelSpec : std::false_type {};
  template <typename T>
  struct NamesModelSpec<T, std::void_t<decltype(std::declval<const T&>().model().name())>>
      : std::true_type {};
  template <typename T, typename = void>
  struct NamesModel : std::false_type {};
  template <typename T>
  struct NamesModel<T, std::void_t<decltype(std::declval<const T&>().name())>> : std::true_type {};

  // Checks the call's transport, its peer's calls in flight and its "authorization"
  // metadata against `access` for `needed`. When it fails, the call is answered
  // (RESOURCE_EXHAUSTED, UNAUTHENTICATED or PERMISSION_DENIED) and false returned.
  bool Admit(const grpc::CallbackServerContext* context, const CallAccess& access, Role needed,
             const char* what);
  // Parses the request's bytes into `request` and keeps it; answers INVALID_ARGUMENT and
  // returns false when they are not a valid message.
  bool ParseInto(std::unique_ptr<google::protobuf::Message> request);
  // The model the request names, for the access log of a call the engine did not take
  // (cut to 128 bytes).
  void set_requested_model(const std::string& model);
  void Report(core::StatusCode code, size_t response_bytes) const;

  std::shared_ptr<State> state_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_CALL_H_
