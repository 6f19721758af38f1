// One answered call as its handler saw it: what the metrics count and the access log
// writes. Plain data; the views point into the handler's call and live as long as the
// record.
#ifndef XAI_SERVER_CALL_RECORD_H_
#define XAI_SERVER_CALL_RECORD_H_

#include <chrono>
#include <cstddef>
#include <string_view>

#include "core/base/status.h"
#include "core/requests/request_context.h"

namespace xai::server {

struct CallRecord {
  std::string_view rpc;                       // "Classify", "GradCAM", ...
  std::string_view request_id;                // the caller's x-request-id, else one of the server's
  std::string_view peer;                      // "ipv4:127.0.0.1:5678"
  std::string_view caller;                    // the token's name (--auth-tokens); empty: none
  const core::RequestTrace* trace = nullptr;  // model, version, method, queue, compute, batch
  core::StatusCode code = core::StatusCode::kOk;
  std::chrono::nanoseconds total{0};  // from the call's arrival to its answer
  size_t request_bytes = 0;           // the request message, serialized
  size_t response_bytes = 0;          // the response message, serialized; 0 on errors
};

}  // namespace xai::server

#endif  // XAI_SERVER_CALL_RECORD_H_
