#include "server/rest_gateway.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <string_view>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/logging.h"
#include "server/web_assets.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using Stub = xai::v1::Explainer::Stub;

constexpr const char* kJson = "application/json";

std::string JsonString(std::string_view text) { return "\"" + JsonEscape(text) + "\""; }

void Error(httplib::Response& response, grpc::StatusCode code, std::string_view message,
           std::string_view request_id, int http_status = 0) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  response.status = http_status != 0 ? http_status : HttpStatusFor(code);
  // Parsers quote the body around an error: never more than 1 KB of it back.
  constexpr size_t kMaxMessage = 1024;
  std::string bounded(message.substr(0, kMaxMessage));
  if (message.size() > kMaxMessage) {
    bounded += "... (" + std::to_string(message.size()) + " bytes)";
  }
  response.set_content(
      "{\"code\": " + JsonString(index >= 0 && index <= 16 ? kNames[index] : "UNKNOWN") +
          ", \"message\": " + JsonString(bounded) + ", \"request_id\": " + JsonString(request_id) +
          "}\n",
      kJson);
}

// Whether `value` can travel as gRPC metadata: printable ASCII.
bool Printable(std::string_view value) {
  for (const char c : value) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// The request id: the caller's X-Request-Id (at most 128 printable bytes), else the
// gateway's own.
std::string RequestId(const httplib::Request& request) {
  static std::atomic<uint64_t> next{1};
  std::string id = request.get_header_value("X-Request-Id");
  if (id.empty() || id.size() > 128 || !Printable(id)) id = "http-" + std::to_string(next++);
  return id;
}

// A client context carrying the HTTP request's token, id and deadline. False (and the
// response set) when X-Request-Timeout is not a positive number of seconds.
bool PrepareContext(const httplib::Request& request, const std::string& id,
                    grpc::ClientContext* context, httplib::Response& response) {
  // A header gRPC could not carry is not passed on: the call then has no token.
  const std::string authorization = request.get_header_value("Authorization");
  if (!authorization.empty() && authorization.size() <= 4096 && Printable(authorization)) {
    context->AddMetadata("authorization", authorization);
  }
  context->AddMetadata("x-request-id", id);
  const std::string timeout = request.get_header_value("X-Request-Timeout");
  if (!timeout.empty()) {
    char* end = nullptr;
    const double seconds = std::strtod(timeout.c_str(), &end);
    if (end == timeout.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds <= 0 ||
        seconds > 1e6) {
      Error(response, grpc::StatusCode::INVALID_ARGUMENT,
            "X-Request-Timeout must be a positive number of seconds (at most 1e6), got '" +
                timeout.substr(0, 32) + "'",
            id);
      return false;
    }
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
  }
  return true;
}

// `message` in the canonical JSON mapping (lowerCamelCase names), every field written
// (class index 0 and the like, which proto3's JSON would leave out).
auto PrintJson(const google::protobuf::Message& message, std::string* json) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  return google::protobuf::util::MessageToJsonString(message, json, options);
}

// Answers `call`'s result as JSON, or its status as an error.
template <typename Response>
void Answer(const grpc::Status& status, const Response& answer, const std::string& id,
            httplib::Response& response) {
  response.set_header("X-Request-Id", id);
  if (!status.ok()) {
    Error(response, status.error_code(), status.error_message(), id);
    return;
  }
  std::string json;
  const auto printed = PrintJson(answer, &json);
  if (!printed.ok()) {
    Error(response, grpc::StatusCode::INTERNAL,
          "the answer could not be written as JSON: " + std::string(printed.message()), id);
    return;
  }
  response.status = 200;
  response.set_content(json + "\n", kJson);
}

// Parses `body` (empty: {}) into `message`; false (and a 400 set) when it is not the
// message's JSON.
bool ParseBody(const std::string& body, google::protobuf::Message* message, const std::string& id,
               httplib::Response& response) {
  if (body.empty()) return true;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(body, message, options);
  if (!parsed.ok()) {
    Error(response, grpc::StatusCode::INVALID_ARGUMENT,
          "the body is not a " + message->GetDescriptor()->full_name() +
              " in JSON: " + std::string(parsed.message()),
          id);
    return false;
  }
  return true;
}

// {name, version} of a route's captures 1 and 2 (version "" : 0).
void SetModel(const httplib::Request& request, xai::v1::ModelSpec* model) {
  model->set_name(request.matches[1].str());
  const std::string version = request.matches[2].str();
  model->set_version(version.empty() ? 0 : std::stoll(version.substr(0, 18)));
}

// Calls `method` with `request` under the HTTP request's token, id and deadline, and answers.
template <typename Request, typename Response>
void Forward(Stub& stub,
             grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
             const Request& request, const httplib::Request& http, const std::string& id,
             httplib::Response& response) {
  grpc::ClientContext context;
  if (!PrepareContext(http, id, &context, response)) return;
  Response answer;
  const grpc::Status status = (stub.*method)(&context, request, &answer);
  Answer(status, answer, id, response);
}

// A POST route of one RPC: the body's message, with the path's model.
template <typename Request, typename Response>
httplib::Server::Handler Post(std::shared_ptr<Stub> stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Response*)) {
  return [stub, method](const httplib::Request& http, httplib::Response& response) {
    const std::string id = RequestId(http);
    Request request;
    if (!ParseBody(http.body, &request, id, response)) return;
    SetModel(http, request.mutable_model());
    Forward(*stub, method, request, http, id, response);
  };
}

// A GET route of one RPC about the path's model.
template <typename Request, typename Response>
httplib::Server::Handler GetModel(std::shared_ptr<Stub> stub,
                                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*)) {
  return [stub, method](const httplib::Request& http, httplib::Response& response) {
    Request request;
    SetModel(http, request.mutable_model());
    Forward(*stub, method, request, http, RequestId(http), response);
  };
}

constexpr int kMaxInstances = 64;

// The base64 image of KServe v1 instance `value`: {"b64": ...} or TensorFlow Serving's
// {"image_bytes": {"b64": ...}}; empty when it is neither.
std::string InstanceImage(const google::protobuf::Value& value) {
  if (!value.has_struct_value()) return "";
  const auto& fields = value.struct_value().fields();
  if (auto b64 = fields.find("b64"); b64 != fields.end() && b64->second.has_string_value()) {
    return b64->second.string_value();
  }
  if (auto bytes = fields.find("image_bytes"); bytes != fields.end()) {
    return InstanceImage(bytes->second);
  }
  return "";
}

// KServe's v1 protocol: {"instances": [{"b64": IMAGE}, ...]}, each instance one call of
// `method` (its request's JSON: `fields`, "name": value pairs each followed by a comma, and
// the image), answered as
// {`key`: [response, ...]} in instance order; the first failing instance fails the request,
// its index in the message.
template <typename Request, typename Response>
httplib::Server::Handler KServe(std::shared_ptr<Stub> stub,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                std::string key, std::string fields) {
  return [stub, method, key, fields](const httplib::Request& http, httplib::Response& response) {
    const std::string id = RequestId(http);
    response.set_header("X-Request-Id", id);
    google::protobuf::Struct body;
    const auto parsed = google::protobuf::util::JsonStringToMessage(http.body, &body);
    const auto instances = body.fields().find("instances");
    if (!parsed.ok() || instances == body.fields().end() || !instances->second.has_list_value()) {
      Error(response, grpc::StatusCode::INVALID_ARGUMENT,
            "the body must be KServe's {\"instances\": [{\"b64\": IMAGE}, ...]}" +
                (parsed.ok() ? std::string() : ": " + std::string(parsed.message())),
            id);
      return;
    }
    const auto& list = instances->second.list_value().values();
    if (list.empty() || list.size() > kMaxInstances) {
      Error(response, grpc::StatusCode::INVALID_ARGUMENT,
            "instances must hold 1 to " + std::to_string(kMaxInstances) + " images, got " +
                std::to_string(list.size()),
            id);
      return;
    }
    std::string out = "{\"" + key + "\": [";
    for (int i = 0; i < list.size(); ++i) {
      const std::string where = "instances[" + std::to_string(i) + "]";
      const std::string image = InstanceImage(list[i]);
      Request request;
      const std::string json =
          "{" + fields + "\"image\": {\"encoded\": \"" + JsonEscape(image) + "\"}}";
      const auto made = google::protobuf::util::JsonStringToMessage(json, &request);
      if (image.empty() || !made.ok()) {
        Error(response, grpc::StatusCode::INVALID_ARGUMENT,
              where + " must be {\"b64\": BASE64} or {\"image_bytes\": {\"b64\": BASE64}}" +
                  (made.ok() ? std::string() : ": " + std::string(made.message())),
              id);
        return;
      }
      SetModel(http, request.mutable_model());
      grpc::ClientContext context;
      if (!PrepareContext(http, id, &context, response)) return;
      Response answer;
      const grpc::Status status = ((*stub).*method)(&context, request, &answer);
      if (!status.ok()) {
        Error(response, status.error_code(), where + ": " + status.error_message(), id);
        return;
      }
      std::string printed;
      if (!PrintJson(answer, &printed).ok()) {
        Error(response, grpc::StatusCode::INTERNAL, where + ": the answer could not be written",
              id);
        return;
      }
      out += (i > 0 ? ", " : "") + printed;
    }
    response.status = 200;
    response.set_content(out + "]}\n", kJson);
  };
}

// The web page's files and the samples (server/web_assets.h) at their paths, and the list
// of the samples at /samples/index.json. The page may load nothing from elsewhere (its
// Content-Security-Policy says so), so that it works on an air-gapped cluster.
void ServeWebPage(httplib::Server& http) {
  std::string samples = "[";
  for (const WebAsset& asset : WebAssets()) {
    const std::string path = asset.path;
    if (path.rfind("/samples/", 0) == 0) {
      samples += (samples.size() > 1 ? ", " : "") + JsonString(path.substr(9));
    }
    std::string pattern;  // the path as a regex: its dots escaped
    for (const char c : path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    http.Get(pattern, [asset](const httplib::Request&, httplib::Response& response) {
      response.set_header("Cache-Control", "no-cache");
      response.set_header("X-Content-Type-Options", "nosniff");
      response.set_header(
          "Content-Security-Policy",
          "default-src 'none'; script-src 'self'; style-src 'self'; "
          "img-src 'self' data: blob:; connect-src 'self' blob:; form-action 'none'; "
          "frame-ancestors 'none'; base-uri 'none'");
      response.set_content(reinterpret_cast<const char*>(asset.data), asset.size,
                           asset.content_type);
    });
  }
  samples += "]\n";
  http.Get("/samples/index\\.json",
           [samples](const httplib::Request&, httplib::Response& response) {
             response.set_header("Cache-Control", "no-cache");
             response.set_content(samples, kJson);
           });
}

}  // namespace

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;  // the client closed the request
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;  // INTERNAL, UNKNOWN, DATA_LOSS
  }
}

RestGateway::~RestGateway() = default;

core::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Start(
    const Options& options, std::shared_ptr<grpc::Channel> channel) {
  auto stub = std::shared_ptr<Stub>(xai::v1::Explainer::NewStub(channel));
  auto health =
      std::shared_ptr<grpc::health::v1::Health::Stub>(grpc::health::v1::Health::NewStub(channel));
  auto http = std::make_unique<httplib::Server>();
  const int threads = options.threads;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http->set_payload_max_length(options.max_body_bytes);
  // No "/:" anywhere in a pattern: cpp-httplib 0.14 and later read a pattern that has one as
  // its own "/:param" syntax, not as a regex (hence [^:/], not [^/:]).
  const std::string model = R"(/v1/models/([^:/]+)(?:/versions/([0-9]{1,18}))?)";
  http->Post(model + ":classify", Post(stub, &Stub::Classify));
  http->Post(model + ":gradcam", Post(stub, &Stub::GradCAM));
  http->Post(model + ":attribute", Post(stub, &Stub::Attribute));
  http->Post(model + ":decisionPath", Post(stub, &Stub::DecisionPath));
  // KServe's v1 protocol: :predict classifies, :explain draws Grad-CAM over each image.
  http->Post(model + ":predict", KServe(stub, &Stub::Classify, "predictions", ""));
  http->Post(model + ":explain",
             KServe(stub, &Stub::GradCAM, "explanations", R"("overlay": {"enabled": true}, )"));
  http->Get("/v1/models", [stub](const httplib::Request& http, httplib::Response& response) {
    Forward(*stub, &Stub::ListModels, xai::v1::ListModelsRequest(), http, RequestId(http),
            response);
  });
  http->Get(model, GetModel(stub, &Stub::DescribeModel));
  http->Get(model + "/stats", GetModel(stub, &Stub::ModelStatistics));
  http->Get("/v2/health/live", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{\"live\": true}\n", kJson);
  });
  // Ready as the gRPC health service's overall status says: the initial load done and a
  // model READY, and not draining.
  http->Get("/v2/health/ready", [health](const httplib::Request&, httplib::Response& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse answer;
    const grpc::Status status = health->Check(&context, request, &answer);
    const bool ready =
        status.ok() && answer.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    response.status = ready ? 200 : 503;
    response.set_content(std::string("{\"ready\": ") + (ready ? "true" : "false") + "}\n", kJson);
  });
  if (options.web_page) ServeWebPage(*http);
  http->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404 && response.body.empty()) {
      Error(response, grpc::StatusCode::NOT_FOUND,
            request.method + " " + request.path.substr(0, 128) +
                ": no such route (POST /v1/models/NAME:classify, :gradcam, :attribute, "
                ":decisionPath, :predict, :explain; GET /v1/models[/NAME[/stats]], "
                "/v2/health/live, /v2/health/ready; the web page at /)",
            "");
    } else if (response.status == 413 && response.body.empty()) {
      Error(response, grpc::StatusCode::RESOURCE_EXHAUSTED,
            "the body is over the size limit, or was sent as a form: send JSON with "
            "Content-Type: application/json",
            "", 413);
    }
  });
  std::unique_ptr<RestGateway> gateway(new RestGateway());
  XAI_ASSIGN_OR_RETURN(gateway->listener_, HttpListener::Start(std::move(http), options.address,
                                                               "HTTP", "0.0.0.0:8000, [::]:8000"));
  return gateway;
}

}  // namespace xai::server
