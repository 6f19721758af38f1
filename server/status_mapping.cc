#include "server/status_mapping.h"

namespace xai::server {

grpc::Status ToGrpcStatus(const core::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  if (code <= 0 || code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, status.message());
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), status.message());
}

}  // namespace xai::server
