// The one place a core Status becomes a gRPC status.
#ifndef XAI_SERVER_STATUS_MAPPING_H_
#define XAI_SERVER_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "core/base/status.h"

namespace xai::server {

// The longest status message sent. It travels percent-encoded (up to 3 bytes a byte) in
// the trailers, which gRPC clients cap at 8 KB by default; one over the cap fails the
// call and every other call on its connection.
inline constexpr size_t kMaxStatusMessageBytes = 2048;

// Same code (core's codes are gRPC's numbers) and message, cut to kMaxStatusMessageBytes.
grpc::Status ToGrpcStatus(const core::Status& status);

}  // namespace xai::server

#endif  // XAI_SERVER_STATUS_MAPPING_H_
