// What every request carries besides its parameters: its deadline, its id for logs and
// whether its caller gave up. Filled by the adapter (the gRPC handler: the call's
// deadline, x-request-id and cancellation), read by the scheduler while it is queued.
#ifndef XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_
#define XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_

#include <chrono>
#include <functional>
#include <string>

namespace xai::core {

using Clock = std::chrono::steady_clock;

// Whether the caller gave up on a request: called while it waits in a queue, from the
// scheduler's threads, so it must be thread safe and cheap (e.g. ServerContext::IsCancelled).
using CancelledFn = std::function<bool()>;

struct RequestContext {
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;  // for logs
  CancelledFn cancelled;   // unset: never

  bool IsCancelled() const { return cancelled && cancelled(); }
};

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_REQUEST_CONTEXT_H_
