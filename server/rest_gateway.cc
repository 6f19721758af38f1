#include "server/rest_gateway.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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

void Error(httplib::Response& response, grpc::StatusCode code, std::string_view message,
           std::string_view request_id, int http_status = 0) {
  response.status = http_status != 0 ? http_status : HttpStatusFor(code);
  // Parsers quote the body around an error: never more than 1 KB of it back.
  const std::string bounded = core::CapMessage(message, 1024);
  response.set_content(
      // core's codes are gRPC's numbers; one outside them is named UNKNOWN.
      "{\"code\": " + JsonString(core::StatusCodeName(static_cast<core::StatusCode>(code))) +
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

// The HTTP client's address as gRPC writes a peer ("ipv4:10.0.0.7:51234", "ipv6:[::1]:443").
std::string HttpPeer(const httplib::Request& request) {
  const bool v6 = request.remote_addr.find(':') != std::string::npos;
  return (v6 ? "ipv6:[" + request.remote_addr + "]" : "ipv4:" + request.remote_addr) + ":" +
         std::to_string(request.remote_port);
}

// A client context carrying the HTTP request's token, id, deadline and client address. False
// (and the response set) when X-Request-Timeout is not a positive number of seconds.
bool PrepareContext(const httplib::Request& request, const std::string& id,
                    const Upstream& upstream, grpc::ClientContext* context,
                    httplib::Response& response) {
  // A header gRPC could not carry is not passed on: the call then has no token.
  const std::string authorization = request.get_header_value("Authorization");
  if (!authorization.empty() && authorization.size() <= 4096 && Printable(authorization)) {
    context->AddMetadata("authorization", authorization);
  }
  context->AddMetadata("x-request-id", id);
  context->AddMetadata(kGatewayMetadata, upstream.secret);
  context->AddMetadata(kHttpPeerMetadata, HttpPeer(request));
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
void Forward(const Upstream& upstream,
             grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
             const Request& request, const httplib::Request& http, const std::string& id,
             httplib::Response& response) {
  grpc::ClientContext context;
  if (!PrepareContext(http, id, upstream, &context, response)) return;
  Response answer;
  const grpc::Status status = ((*upstream.stub).*method)(&context, request, &answer);
  Answer(status, answer, id, response);
}

// A POST route of one RPC: the body's message, with the path's model.
template <typename Request, typename Response>
httplib::Server::Handler Post(std::shared_ptr<const Upstream> upstream,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Response*)) {
  return [upstream, method](const httplib::Request& http, httplib::Response& response) {
    const std::string id = RequestId(http);
    Request request;
    if (!ParseBody(http.body, &request, id, response)) return;
    SetModel(http, request.mutable_model());
    Forward(*upstream, method, request, http, id, response);
  };
}

// A GET route of one RPC about the path's model.
template <typename Request, typename Response>
httplib::Server::Handler GetModel(std::shared_ptr<const Upstream> upstream,
                                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*)) {
  return [upstream, method](const httplib::Request& http, httplib::Response& response) {
    Request request;
    SetModel(http, request.mutable_model());
    Forward(*upstream, method, request, http, RequestId(http), response);
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

// One RPC called asynchronously: `call(stub, context, request, response, done)` starts it
// (stub.async()->Method(...)) and `done` gets its status.
template <typename Request, typename Response>
using AsyncCall = void (*)(Stub&, grpc::ClientContext*, const Request*, Response*,
                           std::function<void(grpc::Status)>);

// KServe's v1 protocol: {"instances": [{"b64": IMAGE}, ...]}, each instance one call (its
// request's JSON: `fields`, "name": value pairs each followed by a comma, and the image),
// all sent at once, so that the model's scheduler can batch them; answered as
// {`key`: [response, ...]} in instance order. An instance that is not an image fails the
// request before any call; otherwise the first failing instance (in order) fails it, its
// index in the message.
template <typename Request, typename Response>
httplib::Server::Handler KServe(std::shared_ptr<const Upstream> upstream,
                                AsyncCall<Request, Response> call, std::string key,
                                std::string fields) {
  return [upstream, call, key, fields](const httplib::Request& http, httplib::Response& response) {
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
    struct Instance {
      grpc::ClientContext context;
      Request request;
      Response answer;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Instance>> calls;
    for (int i = 0; i < list.size(); ++i) {
      const std::string image = InstanceImage(list[i]);
      auto instance = std::make_unique<Instance>();
      const std::string json =
          "{" + fields + "\"image\": {\"encoded\": \"" + JsonEscape(image) + "\"}}";
      const auto made = google::protobuf::util::JsonStringToMessage(json, &instance->request);
      if (image.empty() || !made.ok()) {
        Error(response, grpc::StatusCode::INVALID_ARGUMENT,
              "instances[" + std::to_string(i) +
                  "] must be {\"b64\": BASE64} or {\"image_bytes\": {\"b64\": BASE64}}" +
                  (made.ok() ? std::string() : ": " + std::string(made.message())),
              id);
        return;
      }
      SetModel(http, instance->request.mutable_model());
      if (!PrepareContext(http, id, *upstream, &instance->context, response)) return;
      calls.push_back(std::move(instance));
    }
    std::mutex mutex;
    std::condition_variable finished;
    size_t pending = calls.size();
    for (const auto& instance : calls) {
      Instance* one = instance.get();
      call(*upstream->stub, &one->context, &one->request, &one->answer,
           [one, &mutex, &finished, &pending](grpc::Status status) {
             std::lock_guard<std::mutex> lock(mutex);
             one->status = std::move(status);
             if (--pending == 0) finished.notify_all();
           });
    }
    {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait(lock, [&pending] { return pending == 0; });
    }
    std::string out = "{\"" + key + "\": [";
    for (size_t i = 0; i < calls.size(); ++i) {
      const std::string where = "instances[" + std::to_string(i) + "]";
      if (!calls[i]->status.ok()) {
        Error(response, calls[i]->status.error_code(),
              where + ": " + calls[i]->status.error_message(), id);
        return;
      }
      std::string printed;
      if (!PrintJson(calls[i]->answer, &printed).ok()) {
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
  auto upstream = std::make_shared<Upstream>();
  upstream->stub = xai::v1::Explainer::NewStub(channel);
  upstream->secret = options.gateway_secret;
  std::shared_ptr<const Upstream> stub = upstream;
  auto health =
      std::shared_ptr<grpc::health::v1::Health::Stub>(grpc::health::v1::Health::NewStub(channel));
  std::unique_ptr<httplib::Server> http;
  if (options.tls != nullptr) {
    const ServerTls* tls = options.tls;
    auto https = std::make_unique<httplib::SSLServer>(
        [tls](SSL_CTX& context) { return tls->ConfigureHttps(&context); });
    if (!https->is_valid()) {
      return core::InternalError("the HTTPS port could not be set up (OpenSSL)");
    }
    http = std::move(https);
  } else {
    http = std::make_unique<httplib::Server>();
  }
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
  const AsyncCall<xai::v1::ClassifyRequest, xai::v1::ClassifyResponse> classify =
      [](Stub& stub, grpc::ClientContext* context, const xai::v1::ClassifyRequest* request,
         xai::v1::ClassifyResponse* answer, std::function<void(grpc::Status)> done) {
        stub.async()->Classify(context, request, answer, std::move(done));
      };
  const AsyncCall<xai::v1::GradCAMRequest, xai::v1::GradCAMResponse> gradcam =
      [](Stub& stub, grpc::ClientContext* context, const xai::v1::GradCAMRequest* request,
         xai::v1::GradCAMResponse* answer, std::function<void(grpc::Status)> done) {
        stub.async()->GradCAM(context, request, answer, std::move(done));
      };
  http->Post(model + ":predict", KServe(stub, classify, "predictions", ""));
  http->Post(model + ":explain",
             KServe(stub, gradcam, "explanations", R"("overlay": {"enabled": true}, )"));
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
