// Status and StatusOr for the core library.
//
// Core returns these instead of throwing. They mirror absl::Status / absl::StatusOr
// (same code names and numbers, which are also gRPC's), but depend on nothing beyond
// the C++17 standard library: the tensor-level engine must build against any LibTorch,
// including pip's CUDA LibTorch on GPU nodes, where Abseil is not available.
#ifndef XAI_CORE_BASE_STATUS_H_
#define XAI_CORE_BASE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace xai::core {

// Numbers equal google.rpc.Code / grpc::StatusCode, so the server maps by value.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "INVALID_ARGUMENT", ... as gRPC spells them.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(code == StatusCode::kOk ? "" : std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "prefix: message"; OK stays OK.
  Status WithContext(std::string_view prefix) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status CancelledError(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status DeadlineExceededError(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status PermissionDeniedError(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status ResourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status UnimplementedError(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}

// Either a value or a non-OK Status. Constructing from an OK Status is a programming
// error (asserted in debug builds; becomes INTERNAL otherwise).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : status_(status) { CheckNotOk(); }        // NOLINT: implicit
  StatusOr(Status&& status) : status_(std::move(status)) { CheckNotOk(); }  // NOLINT
  StatusOr(const T& value) : value_(value) {}        // NOLINT: implicit like absl
  StatusOr(T&& value) : value_(std::move(value)) {}  // NOLINT: implicit like absl

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // Precondition: ok().
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  void CheckNotOk() {
    assert(!status_.ok() && "StatusOr constructed from an OK status");
    if (status_.ok()) status_ = InternalError("StatusOr constructed from an OK status");
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace xai::core

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define XAI_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::xai::core::Status xai_status_ = (expr);  \
    if (!xai_status_.ok()) return xai_status_; \
  } while (false)

#define XAI_STATUS_CONCAT_INNER_(a, b) a##b
#define XAI_STATUS_CONCAT_(a, b) XAI_STATUS_CONCAT_INNER_(a, b)

// `XAI_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares x from the value, or returns
// the error from the enclosing function.
#define XAI_ASSIGN_OR_RETURN(lhs, expr) \
  XAI_ASSIGN_OR_RETURN_IMPL_(XAI_STATUS_CONCAT_(xai_statusor_, __LINE__), lhs, expr)
#define XAI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // XAI_CORE_BASE_STATUS_H_
