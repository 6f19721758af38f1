// One unary RPC in flight on the callback API, as every service's handler sees it: its
// reactor (which watches for cancellation), request id, deadline and trace, the access
// check, and Finish, which maps the status, counts the call, writes its access line and
// answers.
#ifndef XAI_SERVER_CALL_H_
#define XAI_SERVER_CALL_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

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

// Who may call: with `auth` set, every RPC needs a token of its service's role; null:
// every caller may. With `require_tls`, calls that did not come over TLS (on the plaintext
// health port) are refused.
struct CallAccess {
  const Authenticator* auth = nullptr;
  bool require_tls = false;
  PeerLimiter* peers = nullptr;  // calls in flight per caller host; null: no limit
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
  // `model`: the name the request sent, for the access log of a call the engine did not
  // take (cut to 128 bytes).
  Call(grpc::CallbackServerContext* context, const char* rpc, const std::string& model,
       const google::protobuf::Message& request, const CallTelemetry& telemetry);

  // Checks the call's transport, its peer's calls in flight and its "authorization"
  // metadata against `access` for `needed`. When it fails, the call is answered
  // (RESOURCE_EXHAUSTED, UNAUTHENTICATED or PERMISSION_DENIED) and false returned: the
  // handler returns reactor() at once.
  bool Admit(const grpc::CallbackServerContext* context, const CallAccess& access, Role needed,
             const char* what);

  const std::string& id() const { return state_->id; }
  core::Clock::time_point deadline() const { return state_->deadline; }
  grpc::ServerUnaryReactor* reactor() const { return state_->reactor; }
  // What the engine reports about the call, filled before it answers.
  const std::shared_ptr<core::RequestTrace>& trace() const { return state_->trace; }
  // Whether the caller cancelled; callable from any thread until Finish.
  core::CancelledFn cancelled() const;

  // Maps and logs `status`, counts the call and finishes the RPC. INTERNAL errors are
  // logged with the request id, which their message repeats; client errors go to DEBUG.
  // `response`: the answer, when `status` is OK.
  grpc::ServerUnaryReactor* Finish(const core::Status& status,
                                   const google::protobuf::Message* response = nullptr) const;

 private:
  struct State {
    CallReactor* reactor = nullptr;
    const char* rpc = "";
    std::string requested_model;
    std::string id;
    std::string peer;
    std::string caller;
    PeerLimiter* counted_in = nullptr;  // set while the call counts against its peer
    core::Clock::time_point started = core::Clock::now();
    core::Clock::time_point deadline;
    size_t request_bytes = 0;
    std::shared_ptr<core::RequestTrace> trace = std::make_shared<core::RequestTrace>();
    CallTelemetry telemetry;
  };

  void Report(core::StatusCode code, size_t response_bytes) const;

  std::shared_ptr<State> state_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_CALL_H_
