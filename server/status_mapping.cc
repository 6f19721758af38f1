#include "server/status_mapping.h"

#include "core/base/quote.h"

namespace xai::server {

grpc::Status ToGrpcStatus(const core::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message = core::CapMessage(status.message(), kMaxStatusMessageBytes);
  const int code = static_cast<int>(status.code());
  if (code <= 0 || code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, message);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), message);
}

}  // namespace xai::server
