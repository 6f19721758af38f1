// What every request carries besides its parameters: its deadline, its id for logs and
// whether its caller gave up. Filled by the adapter (the gRPC handler: the call's
// deadline, x-request-id and cancellation), read by the scheduler while it is queued.
#ifndef XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_
#define XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace xai::core {

using Clock = std::chrono::steady_clock;

// Whether the caller gave up on a request: called while it waits in a queue, from the
// scheduler's threads, so it must be thread safe and cheap (e.g. ServerContext::IsCancelled).
using CancelledFn = std::function<bool()>;

// What the engine tells the adapter about a request, for its metrics and access log:
// written before the request's callback is called, on the thread that calls it, and
// read by that callback. Its names are bounded (models and methods the server serves),
// never echoes of the request.
struct RequestTrace {
  std::string model;    // the model that took it; empty when its name matched none
  int64_t version = 0;  // the version that took it; 0: none
  std::string method;   // GradCAM: the method that ran (its API name); empty otherwise
  bool queued = false;  // it went through the version's queue: queue and compute are set
  std::chrono::nanoseconds queue{0};    // waiting for an instance
  std::chrono::nanoseconds compute{0};  // its batch's work, up to its answer
  int batch_size = 0;                   // requests in the batch it ran in; 0: never ran
};

struct RequestContext {
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;               // for logs
  CancelledFn cancelled;                // unset: never
  std::shared_ptr<RequestTrace> trace;  // unset: nothing reported

  bool IsCancelled() const { return cancelled && cancelled(); }
};

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_
