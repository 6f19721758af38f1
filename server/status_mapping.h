// The one place a core Status becomes a gRPC status.
#ifndef XAI_SERVER_STATUS_MAPPING_H_
#define XAI_SERVER_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "core/base/status.h"

namespace xai::server {

// Same code (core's codes are gRPC's numbers) and message.
grpc::Status ToGrpcStatus(const core::Status& status);

}  // namespace xai::server

#endif  // XAI_SERVER_STATUS_MAPPING_H_
