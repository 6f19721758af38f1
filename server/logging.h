// xai-server's log lines: plain text (spdlog's pattern) or one JSON object per line for
// log shippers, and the access line every answered call writes.
#ifndef XAI_SERVER_LOGGING_H_
#define XAI_SERVER_LOGGING_H_

#include <string>
#include <string_view>

#include "server/call_record.h"
#include "server/http_server.h"

namespace xai::server {

enum class LogFormat { kText, kJson };

// Sets the format of every log line of the process: the default logger's, the access
// logger's, and gRPC's and protobuf's own messages (loggers "grpc" and "protobuf"), all
// on the default logger's sinks. Call once at start, before other threads log.
//   text: [2026-11-27 10:00:00.123] [info] message
//   json: {"time":"2026-11-27T10:00:00.123Z","level":"info","msg":"message"}
void SetLogFormat(LogFormat format);

// Writes `call`'s access line at INFO through the logger named "access":
//   text: [...] [access] [info] id=... peer=... rpc=GradCAM model=resnet18 version=1
//         method=GRAD_CAM code=OK queue_ms=0.120 compute_ms=20.310 total_ms=20.900
//         batch=4 request_bytes=5210 response_bytes=1043
//   json: {"time":...,"level":"info","logger":"access","request_id":...,"peer":...,
//          "rpc":...,"model":...,"version":1,"method":...,"code":"OK","queue_ms":0.12,
//          "compute_ms":20.31,"total_ms":20.9,"batch":4,"request_bytes":5210,
//          "response_bytes":1043}
// `model` is the model that took the call, else the name the call asked for, cut to 64
// bytes. No metadata (tokens) and no payload are ever written.
void LogAccess(const CallRecord& call, std::string_view requested_model);

// One answered HTTP request's line (server/http_server.h), timed to its last byte written,
// through the same logger; a REST call also writes its gRPC call's line (same request id):
//   text: [...] [access] [info] http=HTTP id=... peer=... http_method=POST
//         path=/v1/models/resnet18:gradcam status=200 encoding=gzip handler_ms=20.100
//         total_ms=22.400 request_bytes=5210 response_bytes=1043 written=true
//   json: {...,"logger":"access","http":"HTTP","request_id":...,"peer":...,
//          "http_method":"POST","path":...,"status":200,"encoding":"gzip",
//          "handler_ms":20.1,"total_ms":22.4,"request_bytes":5210,"response_bytes":1043,
//          "written":true}
// Successful quiet answers (health probes, scrapes, the page's files) write none.
void LogHttpAccess(const HttpExchange& exchange);

// `text` as the inside of a JSON string: quotes, backslashes and control characters
// escaped, bytes that are not UTF-8 replaced by U+FFFD.
std::string JsonEscape(std::string_view text);

}  // namespace xai::server

#endif  // XAI_SERVER_LOGGING_H_
