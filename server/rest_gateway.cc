#include "server/rest_gateway.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/base/quote.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/call.h"
#include "server/logging.h"
#include "server/web_assets.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using Stub = xai::v1::Explainer::Stub;

// This server's own gRPC service, in process, and the secret that marks the gateway's calls
// to it (CallAccess::gateway_secret): with it the service takes the HTTP client's address
// as the call's peer, and the HTTP port's TLS as the call's.
struct Upstream {
  std::unique_ptr<Stub> stub;
  std::string secret;
};

constexpr const char* kJson = "application/json";

std::string JsonString(std::string_view text) { return "\"" + JsonEscape(text) + "\""; }

HttpResponse Error(grpc::StatusCode code, std::string_view message, std::string_view request_id,
                   int http_status = 0) {
  HttpResponse response;
  // Parsers quote the body around an error: never more than 1 KB of it back.
  const std::string bounded = core::CapMessage(message, 1024);
  response.set(
      http_status != 0 ? http_status : HttpStatusFor(code),
      // core's codes are gRPC's numbers; one outside them is named UNKNOWN.
      "{\"code\": " + JsonString(core::StatusCodeName(static_cast<core::StatusCode>(code))) +
          ", \"message\": " + JsonString(bounded) + ", \"request_id\": " + JsonString(request_id) +
          "}\n",
      kJson);
  if (!request_id.empty()) response.headers.emplace_back("X-Request-Id", std::string(request_id));
  return response;
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
std::string RequestId(const HttpRequest& request) {
  static std::atomic<uint64_t> next{1};
  std::string id = request.header("X-Request-Id");
  if (id.empty() || id.size() > 128 || !Printable(id)) id = "http-" + std::to_string(next++);
  return id;
}

// A client context carrying the HTTP request's token, id, deadline and client address.
// An error answer when X-Request-Timeout is not a positive number of seconds.
std::optional<HttpResponse> PrepareContext(const HttpRequest& request, const std::string& id,
                                           const Upstream& upstream, grpc::ClientContext* context) {
  // A header gRPC could not carry is not passed on: the call then has no token.
  const std::string authorization = request.header("Authorization");
  if (!authorization.empty() && authorization.size() <= 4096 && Printable(authorization)) {
    context->AddMetadata("authorization", authorization);
  }
  context->AddMetadata("x-request-id", id);
  context->AddMetadata(kGatewayMetadata, upstream.secret);
  context->AddMetadata(kHttpPeerMetadata, request.peer);
  const std::string timeout = request.header("X-Request-Timeout");
  if (!timeout.empty()) {
    char* end = nullptr;
    const double seconds = std::strtod(timeout.c_str(), &end);
    if (end == timeout.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds <= 0 ||
        seconds > 1e6) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "X-Request-Timeout must be a positive number of seconds (at most 1e6), got '" +
                       timeout.substr(0, 32) + "'",
                   id);
    }
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
  }
  return std::nullopt;
}

// `message` in the canonical JSON mapping (lowerCamelCase names), every field written
// (class index 0 and the like, which proto3's JSON would leave out).
auto PrintJson(const google::protobuf::Message& message, std::string* json) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  return google::protobuf::util::MessageToJsonString(message, json, options);
}

// A call's result as JSON, or its status as an error.
HttpResponse Answer(const grpc::Status& status, const google::protobuf::Message& answer,
                    const std::string& id) {
  if (!status.ok()) return Error(status.error_code(), status.error_message(), id);
  std::string json;
  const auto printed = PrintJson(answer, &json);
  if (!printed.ok()) {
    return Error(grpc::StatusCode::INTERNAL,
                 "the answer could not be written as JSON: " + std::string(printed.message()), id);
  }
  HttpResponse response;
  response.set(200, json + "\n", kJson);
  response.headers.emplace_back("X-Request-Id", id);
  return response;
}

// Parses `body` (empty: {}) into `message`; an error answer (400) when it is not the
// message's JSON.
std::optional<HttpResponse> ParseBody(const std::string& body, google::protobuf::Message* message,
                                      const std::string& id) {
  if (body.empty()) return std::nullopt;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(body, message, options);
  if (!parsed.ok()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "the body is not a " + message->GetDescriptor()->full_name() +
                     " in JSON: " + std::string(parsed.message()),
                 id);
  }
  return std::nullopt;
}

// {name, version} of a route's captures 1 and 2 (version "" : 0).
void SetModel(const HttpRequest& request, xai::v1::ModelSpec* model) {
  model->set_name(request.matches.size() > 1 ? request.matches[1] : "");
  const std::string version = request.matches.size() > 2 ? request.matches[2] : "";
  model->set_version(version.empty() ? 0 : std::stoll(version.substr(0, 18)));
}

// One RPC of the callback API: stub.async()->Method(context, request, response, done).
template <typename Request, typename Response>
using AsyncMethod = void (Stub::async::*)(grpc::ClientContext*, const Request*, Response*,
                                          std::function<void(grpc::Status)>);

// Calls `method` with `request` under the HTTP request's token, id and deadline; its
// completion (on a gRPC thread) answers. The I/O thread returns at once.
template <typename Request, typename Response>
void Forward(const std::shared_ptr<const Upstream>& upstream, AsyncMethod<Request, Response> method,
             Request request, const HttpRequest& http, const std::string& id,
             HttpResponder respond) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response answer;
  };
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  if (auto error = PrepareContext(http, id, *upstream, &call->context)) {
    return respond(std::move(*error));
  }
  ((*upstream->stub->async()).*method)(
      &call->context, &call->request, &call->answer,
      [call, upstream, id, respond = std::move(respond)](grpc::Status status) {
        HttpResponse response = Answer(status, call->answer, id);
        const auto& metadata = call->context.GetServerInitialMetadata();
        if (auto cache = metadata.find("x-cache"); cache != metadata.end()) {
          response.headers.emplace_back("X-Cache",
                                        std::string(cache->second.data(), cache->second.size()));
        }
        respond(std::move(response));
      });
}

// A POST route of one RPC: the body's message, with the path's model.
template <typename Request, typename Response>
HttpHandler Post(std::shared_ptr<const Upstream> upstream, AsyncMethod<Request, Response> method) {
  return [upstream, method](const HttpRequest& http, HttpResponder respond) {
    const std::string id = RequestId(http);
    Request request;
    if (auto error = ParseBody(http.body, &request, id)) return respond(std::move(*error));
    SetModel(http, request.mutable_model());
    Forward(upstream, method, std::move(request), http, id, std::move(respond));
  };
}

// A GET route of one RPC about the path's model.
template <typename Request, typename Response>
HttpHandler GetModel(std::shared_ptr<const Upstream> upstream,
                     AsyncMethod<Request, Response> method) {
  return [upstream, method](const HttpRequest& http, HttpResponder respond) {
    Request request;
    SetModel(http, request.mutable_model());
    Forward(upstream, method, std::move(request), http, RequestId(http), std::move(respond));
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

// KServe's v1 protocol: {"instances": [{"b64": IMAGE}, ...]}, each instance one call (its
// request's JSON: `fields`, "name": value pairs each followed by a comma, and the image),
// all sent at once, so that the model's scheduler can batch them; answered as
// {`key`: [response, ...]} in instance order, by the last call to finish. An instance that
// is not an image fails the request before any call; otherwise the first failing instance
// (in order) fails it, its index in the message.
template <typename Request, typename Response>
HttpHandler KServe(std::shared_ptr<const Upstream> upstream, AsyncMethod<Request, Response> method,
                   std::string key, std::string fields) {
  return [upstream, method, key, fields](const HttpRequest& http, HttpResponder respond) {
    const std::string id = RequestId(http);
    google::protobuf::Struct body;
    const auto parsed = google::protobuf::util::JsonStringToMessage(http.body, &body);
    const auto instances = body.fields().find("instances");
    if (!parsed.ok() || instances == body.fields().end() || !instances->second.has_list_value()) {
      return respond(Error(grpc::StatusCode::INVALID_ARGUMENT,
                           "the body must be KServe's {\"instances\": [{\"b64\": IMAGE}, ...]}" +
                               (parsed.ok() ? std::string() : ": " + std::string(parsed.message())),
                           id));
    }
    const auto& list = instances->second.list_value().values();
    if (list.empty() || list.size() > kMaxInstances) {
      return respond(Error(grpc::StatusCode::INVALID_ARGUMENT,
                           "instances must hold 1 to " + std::to_string(kMaxInstances) +
                               " images, got " + std::to_string(list.size()),
                           id));
    }
    struct Instance {
      grpc::ClientContext context;
      Request request;
      Response answer;
      grpc::Status status;
    };
    // What the calls share; the last to finish answers.
    struct Batch {
      std::vector<std::unique_ptr<Instance>> calls;
      std::atomic<size_t> pending{0};
      HttpResponder respond;
      std::string id;
      std::string key;
    };
    auto batch = std::make_shared<Batch>();
    batch->id = id;
    batch->key = key;
    for (int i = 0; i < list.size(); ++i) {
      const std::string image = InstanceImage(list[i]);
      auto instance = std::make_unique<Instance>();
      const std::string json =
          "{" + fields + "\"image\": {\"encoded\": \"" + JsonEscape(image) + "\"}}";
      const auto made = google::protobuf::util::JsonStringToMessage(json, &instance->request);
      if (image.empty() || !made.ok()) {
        return respond(Error(grpc::StatusCode::INVALID_ARGUMENT,
                             "instances[" + std::to_string(i) +
                                 "] must be {\"b64\": BASE64} or {\"image_bytes\": {\"b64\": "
                                 "BASE64}}" +
                                 (made.ok() ? std::string() : ": " + std::string(made.message())),
                             id));
      }
      SetModel(http, instance->request.mutable_model());
      if (auto error = PrepareContext(http, id, *upstream, &instance->context)) {
        return respond(std::move(*error));
      }
      batch->calls.push_back(std::move(instance));
    }
    batch->respond = std::move(respond);
    batch->pending = batch->calls.size();
    for (const auto& instance : batch->calls) {
      Instance* one = instance.get();
      ((*upstream->stub->async()).*
       method)(&one->context, &one->request, &one->answer, [batch, one](grpc::Status status) {
        one->status = std::move(status);
        if (batch->pending.fetch_sub(1) != 1) return;
        std::string out = "{\"" + batch->key + "\": [";
        for (size_t i = 0; i < batch->calls.size(); ++i) {
          const Instance& call = *batch->calls[i];
          const std::string where = "instances[" + std::to_string(i) + "]";
          if (!call.status.ok()) {
            return batch->respond(Error(call.status.error_code(),
                                        where + ": " + call.status.error_message(), batch->id));
          }
          std::string printed;
          if (!PrintJson(call.answer, &printed).ok()) {
            return batch->respond(Error(grpc::StatusCode::INTERNAL,
                                        where + ": the answer could not be written", batch->id));
          }
          out += (i > 0 ? ", " : "") + printed;
        }
        HttpResponse response;
        response.set(200, out + "]}\n", kJson);
        response.headers.emplace_back("X-Request-Id", batch->id);
        batch->respond(std::move(response));
      });
    }
  };
}

// The web page's files and the samples (server/web_assets.h) at their paths, and the list
// of the samples at /samples/index.json. The page may load nothing from elsewhere (its
// Content-Security-Policy says so), so that it works on an air-gapped cluster.
void ServeWebPage(HttpServer& http) {
  std::string samples = "[";
  for (const WebAsset& asset : WebAssets()) {
    const std::string path = asset.path;
    if (path.rfind("/samples/", 0) == 0) {
      samples += (samples.size() > 1 ? ", " : "") + JsonString(path.substr(9));
    }
    std::string pattern;  // the path as a regex: its dots escaped
    for (const char c : path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    http.Route("GET", pattern, [asset](const HttpRequest&, HttpResponder respond) {
      HttpResponse response;
      response.headers = {
          {"Cache-Control", "no-cache"},
          {"X-Content-Type-Options", "nosniff"},
          {"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; "
           "img-src 'self' data: blob:; connect-src 'self' blob:; form-action 'none'; "
           "frame-ancestors 'none'; base-uri 'none'"}};
      response.set(200, std::string(reinterpret_cast<const char*>(asset.data), asset.size),
                   asset.content_type);
      response.quiet = true;
      respond(std::move(response));
    });
  }
  samples += "]\n";
  http.Route("GET", "/samples/index\\.json", [samples](const HttpRequest&, HttpResponder respond) {
    HttpResponse response;
    response.headers.emplace_back("Cache-Control", "no-cache");
    response.set(200, samples, kJson);
    response.quiet = true;
    respond(std::move(response));
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
  auto upstream = std::make_shared<Upstream>();
  upstream->stub = xai::v1::Explainer::NewStub(channel);
  upstream->secret = options.gateway_secret;
  std::shared_ptr<const Upstream> stub = upstream;
  auto health =
      std::shared_ptr<grpc::health::v1::Health::Stub>(grpc::health::v1::Health::NewStub(channel));
  std::unique_ptr<RestGateway> gateway(new RestGateway());
  HttpServer& http = gateway->http_;
  // No "/:" anywhere in a pattern (cpp-httplib, which served this port before, read one as
  // its own "/:param" syntax; the patterns stayed as they were).
  const std::string model = R"(/v1/models/([^:/]+)(?:/versions/([0-9]{1,18}))?)";
  http.Route("POST", model + ":classify", Post(stub, &Stub::async::Classify));
  http.Route("POST", model + ":gradcam", Post(stub, &Stub::async::GradCAM));
  http.Route("POST", model + ":attribute", Post(stub, &Stub::async::Attribute));
  http.Route("POST", model + ":decisionPath", Post(stub, &Stub::async::DecisionPath));
  // KServe's v1 protocol: :predict classifies, :explain draws Grad-CAM over each image.
  http.Route("POST", model + ":predict", KServe(stub, &Stub::async::Classify, "predictions", ""));
  http.Route(
      "POST", model + ":explain",
      KServe(stub, &Stub::async::GradCAM, "explanations", R"("overlay": {"enabled": true}, )"));
  http.Route("GET", "/v1/models", [stub](const HttpRequest& request, HttpResponder respond) {
    Forward(stub, &Stub::async::ListModels, xai::v1::ListModelsRequest(), request,
            RequestId(request), std::move(respond));
  });
  http.Route("GET", model, GetModel(stub, &Stub::async::DescribeModel));
  http.Route("GET", model + "/stats", GetModel(stub, &Stub::async::ModelStatistics));
  http.Route("GET", "/v2/health/live", [](const HttpRequest&, HttpResponder respond) {
    HttpResponse response;
    response.set(200, "{\"live\": true}\n", kJson);
    response.quiet = true;
    respond(std::move(response));
  });
  // Ready as the gRPC health service's overall status says: the initial load done and a
  // model READY, and not draining.
  http.Route("GET", "/v2/health/ready", [health](const HttpRequest&, HttpResponder respond) {
    struct Check {
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse answer;
    };
    auto check = std::make_shared<Check>();
    check->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    health->async()->Check(
        &check->context, &check->request, &check->answer,
        [check, health, respond](grpc::Status status) {
          const bool ready = status.ok() && check->answer.status() ==
                                                grpc::health::v1::HealthCheckResponse::SERVING;
          HttpResponse response;
          response.set(ready ? 200 : 503,
                       std::string("{\"ready\": ") + (ready ? "true" : "false") + "}\n", kJson);
          response.quiet = true;
          respond(std::move(response));
        });
  });
  if (options.web_page) ServeWebPage(http);
  HttpServer::Options settings = options.http;
  settings.name = "HTTP";
  settings.example = "0.0.0.0:8000, [::]:8000";
  if (options.tls != nullptr) {
    const ServerTls* tls = options.tls;
    settings.tls = [tls](ssl_ctx_st* context) { return tls->ConfigureHttps(context); };
  }
  settings.error_page = [](int status, const std::string& message) {
    switch (status) {
      case 404:
        return Error(grpc::StatusCode::NOT_FOUND,
                     message +
                         ": no such route (POST /v1/models/NAME:classify, :gradcam, :attribute, "
                         ":decisionPath, :predict, :explain; GET /v1/models[/NAME[/stats]], "
                         "/v2/health/live, /v2/health/ready; the web page at /)",
                     "");
      case 413:
        return Error(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     message + " (xai-server --max-request-bytes)", "", 413);
      case 431:
        return Error(grpc::StatusCode::RESOURCE_EXHAUSTED, message, "", 431);
      case 503:
        return Error(grpc::StatusCode::UNAVAILABLE, message, "", 503);
      case 405:
        return Error(grpc::StatusCode::UNIMPLEMENTED, message, "", 405);
      case 500:
        return Error(grpc::StatusCode::INTERNAL, message, "", 500);
      default:
        return Error(grpc::StatusCode::INVALID_ARGUMENT, message, "", status);
    }
  };
  XAI_RETURN_IF_ERROR(http.Start(std::move(settings)));
  return gateway;
}

}  // namespace xai::server
