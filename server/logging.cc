#include "server/logging.h"

#include <google/protobuf/stubs/common.h>
#include <grpc/support/log.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include "core/base/quote.h"
#include "core/base/strings.h"

#if GOOGLE_PROTOBUF_VERSION < 4022000  // later versions log through Abseil
#include <google/protobuf/stubs/logging.h>
#endif

namespace xai::server {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

constexpr std::string_view kAccessLogger = "access";
constexpr size_t kMaxLoggedName = 64;

// One JSON object per line. The access logger's payload is already the object's fields
// (LogAccess writes them); every other payload becomes "msg".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line = "{\"time\":\"" + core::IsoTime(msg.time) + "\",\"level\":\"" +
                       std::string(level.data(), level.size()) + "\"";
    if (!logger.empty()) line += ",\"logger\":\"" + JsonEscape(logger) + "\"";
    if (logger == kAccessLogger) {
      line += ",";
      line += payload;
    } else {
      line += ",\"msg\":\"" + JsonEscape(payload) + "\"";
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// A logger of its own name on the default logger's sinks (so one format and one stream),
// made on first use.
std::shared_ptr<spdlog::logger> SharedLogger(const std::string& name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get(name)) return existing;
  const auto& sinks = spdlog::default_logger()->sinks();
  auto made = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  made->set_level(spdlog::default_logger()->level());
  spdlog::register_logger(made);
  return made;
}

std::shared_ptr<spdlog::logger> AccessLogger() {
  static const std::shared_ptr<spdlog::logger> logger = SharedLogger(std::string(kAccessLogger));
  return logger;
}

// gRPC's and protobuf's own messages, which would otherwise go to stderr in their own
// format, through loggers named "grpc" and "protobuf".
void LogGrpc(gpr_log_func_args* args) {
  static const std::shared_ptr<spdlog::logger> logger = SharedLogger("grpc");
  const auto level = args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::err
                     : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                               : spdlog::level::debug;
  logger->log(level, "{}:{}: {}", args->file, args->line, args->message);
}

#if GOOGLE_PROTOBUF_VERSION < 4022000
void LogProtobuf(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  static const std::shared_ptr<spdlog::logger> logger = SharedLogger("protobuf");
  auto spd_level = level >= google::protobuf::LOGLEVEL_ERROR     ? spdlog::level::err
                   : level == google::protobuf::LOGLEVEL_WARNING ? spdlog::level::warn
                                                                 : spdlog::level::info;
  // A caller's bad bytes: the call's INVALID_ARGUMENT and its access line say so; at ERROR
  // any caller could fill the log with them.
  if (message.find("when parsing a protocol buffer") != std::string::npos) {
    spd_level = spdlog::level::debug;
  }
  logger->log(spd_level, "{}:{}: {}", file, line, message);
}
#endif

// A value of a text access line: as is when it is a plain word, else quoted with JSON's
// escapes (so spaces, quotes and newlines cannot forge fields or lines).
std::string TextValue(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || c == '=' ||
        static_cast<unsigned char>(c) >= 0x7F) {
      plain = false;
    }
  }
  return plain ? std::string(value) : "\"" + JsonEscape(value) + "\"";
}

std::string Millis(std::chrono::nanoseconds duration) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.3f",
                std::chrono::duration<double, std::milli>(duration).count());
  return out;
}

std::string Cut(std::string_view name) {
  if (name.size() <= kMaxLoggedName) return std::string(name);
  return std::string(name.substr(0, kMaxLoggedName)) + "...";
}

}  // namespace

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const size_t length = core::Utf8SequenceLength(text.substr(i));
    if (length == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
    ++i;
  }
  return out;
}

void SetLogFormat(LogFormat format) {
  g_format.store(format);
  AccessLogger();  // shares the default logger's sinks, whose formatter is set here
  gpr_set_log_function(LogGrpc);
#if GOOGLE_PROTOBUF_VERSION < 4022000
  google::protobuf::SetLogHandler(LogProtobuf);
#endif
  if (format == LogFormat::kJson) {
    spdlog::default_logger()->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::default_logger()->set_pattern("%+");
  }
}

void LogAccess(const CallRecord& call, std::string_view requested_model) {
  const std::shared_ptr<spdlog::logger> logger = AccessLogger();
  if (!logger->should_log(spdlog::level::info)) return;
  const core::RequestTrace& trace = *call.trace;
  const std::string model = trace.model.empty() ? Cut(requested_model) : trace.model;
  const std::string_view code = core::StatusCodeName(call.code);
  std::string line;
  if (g_format.load() == LogFormat::kJson) {
    line = "\"request_id\":\"" + JsonEscape(call.request_id) + "\",\"peer\":\"" +
           JsonEscape(call.peer) + "\",\"caller\":\"" + JsonEscape(call.caller) + "\",\"rpc\":\"" +
           JsonEscape(call.rpc) + "\",\"model\":\"" + JsonEscape(model) +
           "\",\"version\":" + std::to_string(trace.version) + ",\"method\":\"" +
           JsonEscape(trace.method) + "\",\"code\":\"" + std::string(code) +
           "\",\"queue_ms\":" + Millis(trace.queue) + ",\"compute_ms\":" + Millis(trace.compute) +
           ",\"total_ms\":" + Millis(call.total) +
           ",\"batch\":" + std::to_string(trace.batch_size) +
           ",\"request_bytes\":" + std::to_string(call.request_bytes) +
           ",\"response_bytes\":" + std::to_string(call.response_bytes);
  } else {
    line = "id=" + TextValue(call.request_id) + " peer=" + TextValue(call.peer) +
           " caller=" + (call.caller.empty() ? "-" : TextValue(call.caller)) +
           " rpc=" + TextValue(call.rpc) + " model=" + (model.empty() ? "-" : TextValue(model)) +
           " version=" + std::to_string(trace.version) +
           " method=" + (trace.method.empty() ? "-" : TextValue(trace.method)) +
           " code=" + std::string(code) + " queue_ms=" + Millis(trace.queue) +
           " compute_ms=" + Millis(trace.compute) + " total_ms=" + Millis(call.total) +
           " batch=" + std::to_string(trace.batch_size) +
           " request_bytes=" + std::to_string(call.request_bytes) +
           " response_bytes=" + std::to_string(call.response_bytes);
  }
  logger->info("{}", line);
}

void LogHttpAccess(const HttpExchange& exchange) {
  if (exchange.quiet && exchange.status < 400 && exchange.written) return;
  const std::shared_ptr<spdlog::logger> logger = AccessLogger();
  if (!logger->should_log(spdlog::level::info)) return;
  const auto ms = [](double seconds) {
    return Millis(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds)));
  };
  std::string line;
  if (g_format.load() == LogFormat::kJson) {
    line = "\"http\":\"" + JsonEscape(exchange.port) + "\",\"request_id\":\"" +
           JsonEscape(exchange.request_id) + "\",\"peer\":\"" + JsonEscape(exchange.peer) +
           "\",\"http_method\":\"" + JsonEscape(exchange.method) + "\",\"path\":\"" +
           JsonEscape(exchange.path) + "\",\"status\":" + std::to_string(exchange.status) +
           ",\"encoding\":\"" + std::string(exchange.encoding) +
           "\",\"handler_ms\":" + ms(exchange.handler_seconds) +
           ",\"total_ms\":" + ms(exchange.total_seconds) +
           ",\"request_bytes\":" + std::to_string(exchange.request_bytes) +
           ",\"response_bytes\":" + std::to_string(exchange.response_bytes) +
           ",\"written\":" + (exchange.written ? "true" : "false");
  } else {
    line = "http=" + TextValue(exchange.port) +
           " id=" + (exchange.request_id.empty() ? "-" : TextValue(exchange.request_id)) +
           " peer=" + TextValue(exchange.peer) +
           " http_method=" + (exchange.method.empty() ? "-" : TextValue(exchange.method)) +
           " path=" + (exchange.path.empty() ? "-" : TextValue(exchange.path)) +
           " status=" + std::to_string(exchange.status) +
           " encoding=" + std::string(exchange.encoding) +
           " handler_ms=" + ms(exchange.handler_seconds) +
           " total_ms=" + ms(exchange.total_seconds) +
           " request_bytes=" + std::to_string(exchange.request_bytes) +
           " response_bytes=" + std::to_string(exchange.response_bytes) +
           " written=" + (exchange.written ? "true" : "false");
  }
  logger->info("{}", line);
}

}  // namespace xai::server
