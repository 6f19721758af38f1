// TLS, mutual TLS and bearer tokens on a real server on localhost: what connects and what
// is refused, certificates and tokens re-read while connections stay open, and the
// errors of files that do not fit.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/auth.h"
#include "server/peer_limiter.h"
#include "server/server.h"
#include "server/tls.h"
#include "tests/core/test_paths.h"
#include "tests/server/test_pki.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using xai::testing::Pki;

constexpr const char* kExplainToken = "explain-token-0123456789abcdef";
constexpr const char* kAdminToken = "admin-token-0123456789abcdef0123";

std::string Dir() {
  static const std::string dir = [] {
    std::string d = ::testing::TempDir() + "/xai_security_" + std::to_string(getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Two independent PKIs, "a" and "b", each made once.
const Pki& MadePki(const std::string& name) {
  static std::map<std::string, Pki> made;
  auto [it, added] = made.try_emplace(name);
  if (added) {
    EXPECT_TRUE(xai::testing::MakePki(Dir(), name, &it->second))
        << xai::testing::ReadBytes(Dir() + "/" + name + ".log");
  }
  return it->second;
}
const Pki& PkiA() { return MadePki("a"); }
const Pki& PkiB() { return MadePki("b"); }

void Copy(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

ServerOptions Options() {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "";
  options.http_address = "";
  options.explainer.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  return options;
}

std::unique_ptr<Server> StartOrDie(const ServerOptions& options) {
  auto server = Server::Start(options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  (*server)->explainer().WaitUntilLoaded();
  return std::move(*server);
}

std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& ca,
                                          const std::string& cert = "",
                                          const std::string& key = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = xai::testing::ReadBytes(ca);
  if (!cert.empty()) {
    ssl.pem_cert_chain = xai::testing::ReadBytes(cert);
    ssl.pem_private_key = xai::testing::ReadBytes(key);
  }
  // A channel of its own each time: no subchannel shared with an earlier one.
  grpc::ChannelArguments args;
  args.SetInt("xai.test.unique", std::rand());
  return grpc::CreateCustomChannel("localhost:" + std::to_string(port), grpc::SslCredentials(ssl),
                                   args);
}

std::shared_ptr<grpc::Channel> PlainChannel(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

// ListModels on `channel` with `token` (none when empty), within 5 s.
grpc::Status ListModels(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  xai::v1::ListModelsResponse response;
  return xai::v1::Explainer::NewStub(channel)->ListModels(&context, {}, &response);
}

// ListModels until it is OK, for up to `seconds`.
bool BecomesOk(const std::function<std::shared_ptr<grpc::Channel>()>& channel, int seconds) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < give_up) {
    if (ListModels(channel()).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// ---------------------------------------------------------------- TLS

TEST(TlsTest, ServesTlsAndRefusesPlaintextAndAnotherCa) {
  ServerOptions options = Options();
  options.tls = {PkiA().server_cert, PkiA().server_key, ""};
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->tls());
  EXPECT_TRUE(ListModels(TlsChannel(server->port(), PkiA().ca)).ok());
  const grpc::Status plaintext = ListModels(PlainChannel(server->port()));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  const grpc::Status other_ca = ListModels(TlsChannel(server->port(), PkiB().ca));
  EXPECT_EQ(other_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << other_ca.error_message();
}

TEST(TlsTest, MutualTlsNeedsAClientCertificateFromItsCa) {
  ServerOptions options = Options();
  options.tls = {PkiA().server_cert, PkiA().server_key, PkiA().ca};
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(
      ListModels(TlsChannel(server->port(), PkiA().ca, PkiA().client_cert, PkiA().client_key))
          .ok());
  EXPECT_EQ(ListModels(TlsChannel(server->port(), PkiA().ca)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListModels(TlsChannel(server->port(), PkiA().ca, PkiB().client_cert, PkiB().client_key))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListModels(PlainChannel(server->port())).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(TlsTest, ReloadServesNewCertificatesAndKeepsOpenConnections) {
  const std::string cert = Dir() + "/reload-server.pem";
  const std::string key = Dir() + "/reload-server.key";
  Copy(PkiA().server_cert, cert);
  Copy(PkiA().server_key, key);
  ServerOptions options = Options();
  options.tls = {cert, key, ""};
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  auto open = TlsChannel(port, PkiA().ca);
  ASSERT_TRUE(ListModels(open).ok());

  // A bad file is refused and changes nothing.
  std::ofstream(cert) << "not a certificate";
  const core::Status bad = server->Reload();
  EXPECT_EQ(bad.code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("no PEM certificate"));
  Copy(PkiB().server_cert, cert);  // and a key that does not match it
  EXPECT_THAT(server->Reload().message(), HasSubstr("does not match"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(ListModels(TlsChannel(port, PkiA().ca)).ok());

  // The other PKI's pair: new connections get it within about a second.
  Copy(PkiB().server_key, key);
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_TRUE(BecomesOk([&] { return TlsChannel(port, PkiB().ca); }, 10));
  EXPECT_FALSE(ListModels(TlsChannel(port, PkiA().ca)).ok());
  // The connection opened before still works: reconnecting would fail, as its CA is a's.
  EXPECT_TRUE(ListModels(open).ok());
  EXPECT_EQ(open->GetState(false), GRPC_CHANNEL_READY);
}

TEST(TlsTest, APlaintextHealthPortAnswersHealthChecksOnly) {
  ServerOptions options = Options();
  options.tls = {PkiA().server_cert, PkiA().server_key, ""};
  options.health_address = "127.0.0.1:0";
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->health_port(), 0);
  auto health_port = PlainChannel(server->health_port());
  for (const char* service : {"", "xai.v1.Explainer", "xai.v1.Explainer/shapes", "liveness"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(
        grpc::health::v1::Health::NewStub(health_port)->Check(&context, request, &response).ok())
        << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  const grpc::Status refused = ListModels(health_port);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("serves grpc.health.v1 only"));
  EXPECT_TRUE(ListModels(TlsChannel(server->port(), PkiA().ca)).ok());

  options.tls = {};
  EXPECT_THAT(Server::Start(options).status().message(),
              HasSubstr("--health-address is a plaintext health port beside a TLS --address"));
}

// GET `path` on the REST port over HTTPS, trusting `ca`, with a client certificate when
// `cert` is set; the HTTP status, or -1 when no answer came (the handshake failed).
int HttpsGet(int port, const std::string& path, const std::string& ca, const std::string& cert = "",
             const std::string& key = "") {
  std::unique_ptr<httplib::SSLClient> client =
      cert.empty() ? std::make_unique<httplib::SSLClient>("localhost", port)
                   : std::make_unique<httplib::SSLClient>("localhost", port, cert, key);
  client->set_ca_cert_path(ca.c_str());
  client->enable_server_certificate_verification(true);
  client->set_connection_timeout(5);
  client->set_read_timeout(10);
  const auto result = client->Get(path.c_str());
  return result ? result->status : -1;
}

TEST(TlsTest, RestSpeaksHttpsWithTheGrpcPortsCertificatesAndReloadsThem) {
  const std::string cert = Dir() + "/rest-server.pem";
  const std::string key = Dir() + "/rest-server.key";
  Copy(PkiA().server_cert, cert);
  Copy(PkiA().server_key, key);
  ServerOptions options = Options();
  options.tls = {cert, key, ""};
  options.health_address = "127.0.0.1:0";  // in-process calls still count as the HTTP port's
  options.http_address = "127.0.0.1:0";
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiA().ca), 200);
  EXPECT_EQ(HttpsGet(port, "/v1/models/shapes", PkiA().ca), 200);
  EXPECT_EQ(HttpsGet(port, "/", PkiA().ca), 200);          // the web page
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiB().ca), -1);  // another CA: not trusted
  httplib::Client plain("127.0.0.1", port);
  plain.set_read_timeout(5);
  const auto plaintext = plain.Get("/v1/models");
  EXPECT_TRUE(!plaintext || plaintext->status != 200) << "plaintext answered on the HTTPS port";
  // Claiming to be the gateway without its secret changes nothing: the plaintext health port
  // still refuses the call.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    context.AddMetadata("x-xai-gateway", std::string(64, '0'));
    context.AddMetadata("x-xai-http-peer", "ipv4:10.9.9.9:1");
    xai::v1::ListModelsResponse response;
    EXPECT_EQ(xai::v1::Explainer::NewStub(PlainChannel(server->health_port()))
                  ->ListModels(&context, {}, &response)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // The other PKI's pair after a reload: the next handshakes serve it.
  Copy(PkiB().server_cert, cert);
  Copy(PkiB().server_key, key);
  ASSERT_TRUE(server->Reload().ok());
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiB().ca), 200);
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiA().ca), -1);
}

TEST(TlsTest, RestWithMutualTlsNeedsAClientCertificateFromItsCa) {
  ServerOptions options = Options();
  options.tls = {PkiA().server_cert, PkiA().server_key, PkiA().ca};
  options.http_address = "127.0.0.1:0";
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiA().ca, PkiA().client_cert, PkiA().client_key), 200);
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiA().ca), -1);
  EXPECT_EQ(HttpsGet(port, "/v1/models", PkiA().ca, PkiB().client_cert, PkiB().client_key), -1);
}

TEST(TlsTest, FilesThatDoNotFitFailAtStartWithTheReason) {
  ServerOptions options = Options();
  options.tls = {PkiA().server_cert, "", ""};
  EXPECT_THAT(Server::Start(options).status().message(),
              HasSubstr("both --tls-cert and --tls-key"));
  options.tls = {"", "", PkiA().ca};
  EXPECT_THAT(Server::Start(options).status().message(), HasSubstr("--tls-client-ca needs"));
  options.tls = {PkiA().server_cert, PkiB().server_key, ""};
  auto mismatch = Server::Start(options);
  EXPECT_EQ(mismatch.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(),
              HasSubstr("does not match the certificate of /CN=server"));
  options.tls = {PkiA().server_key, PkiA().server_key, ""};
  EXPECT_THAT(Server::Start(options).status().message(), HasSubstr("holds no PEM certificate"));
  options.tls = {Dir() + "/missing.pem", PkiA().server_key, ""};
  EXPECT_EQ(Server::Start(options).status().code(), core::StatusCode::kNotFound);
  options.tls = {PkiA().server_cert, PkiA().server_key, PkiA().server_key};
  EXPECT_THAT(Server::Start(options).status().message(), HasSubstr("--tls-client-ca"));
}

// ---------------------------------------------------------------- tokens

std::string WriteTokens(const std::string& name, const std::string& text) {
  const std::string path = Dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(TokenFileTest, ParsesRolesNamesAndCommentsAndRefusesWeakOrBadLines) {
  auto tokens = ParseTokens(
      std::string("# ops\n\n") + kExplainToken + " explain backend-a\n" + kAdminToken + "  admin\n",
      "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ((*tokens)[0].role, Role::kExplain);
  EXPECT_EQ((*tokens)[0].name, "backend-a");
  EXPECT_EQ((*tokens)[1].role, Role::kAdmin);
  EXPECT_EQ((*tokens)[1].name, "line-4");
  const std::string weak = "weak-secret";
  auto refused = ParseTokens(weak + " explain\n", "t");
  EXPECT_THAT(refused.status().message(), HasSubstr("t line 1: the token is shorter than 16"));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr(weak)));
  EXPECT_THAT(ParseTokens(std::string(kExplainToken) + " root\n", "t").status().message(),
              HasSubstr("unknown role 'root'"));
  EXPECT_THAT(ParseTokens(std::string(kExplainToken) + "\n", "t").status().message(),
              HasSubstr("expected TOKEN ROLE"));
  EXPECT_THAT(
      ParseTokens(std::string(kExplainToken) + " explain\n" + kExplainToken + " admin\n", "t")
          .status()
          .message(),
      HasSubstr("line 2: the token is listed twice"));
  EXPECT_THAT(ParseTokens("# nothing\n", "t").status().message(), HasSubstr("holds no token"));
  EXPECT_THAT(ParseTokens("tok\x01n-0123456789abcdef explain\n", "t").status().message(),
              HasSubstr("printable ASCII"));
}

TEST(TokenFileTest, ChecksBearerTokensAndRoles) {
  auto auth = Authenticator::Create(WriteTokens(
      "check.tokens", std::string(kExplainToken) + " explain ex\n" + kAdminToken + " admin ad\n"));
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  const std::string bearer = "Bearer ";
  EXPECT_EQ(*(*auth)->Check(bearer + kExplainToken, Role::kExplain, "x"), "ex");
  EXPECT_EQ(*(*auth)->Check("bearer  " + std::string(kAdminToken), Role::kExplain, "x"), "ad");
  EXPECT_EQ(*(*auth)->Check(bearer + kAdminToken, Role::kAdmin, "x"), "ad");
  const auto denied = (*auth)->Check(bearer + kExplainToken, Role::kAdmin, "ModelAdmin");
  EXPECT_EQ(denied.status().code(), core::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(),
              HasSubstr("'ex' has the role explain; ModelAdmin needs admin"));
  EXPECT_EQ((*auth)->Check("", Role::kExplain, "x").status().code(),
            core::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Check(kExplainToken, Role::kExplain, "x").status().code(),
            core::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Check(bearer + kExplainToken + "x", Role::kExplain, "x").status().code(),
            core::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Check(bearer, Role::kExplain, "x").status().code(),
            core::StatusCode::kUnauthenticated);
}

class TokenServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = WriteTokens("server.tokens", std::string(kExplainToken) + " explain backend\n" +
                                               kAdminToken + " admin ops\n");
    ServerOptions options = Options();
    options.auth_tokens_file = tokens_;
    options.metrics_address = "127.0.0.1:0";
    options.metrics_auth = true;
    server_ = StartOrDie(options);
    ASSERT_NE(server_, nullptr);
    channel_ = PlainChannel(server_->port());
  }

  template <typename Request, typename Response, typename Rpc>
  grpc::Status Call(Rpc rpc, const Request& request, const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    Response response;
    auto stub = xai::v1::Explainer::NewStub(channel_);
    return ((*stub).*rpc)(&context, request, &response);
  }

  // Every Explainer RPC with `token`: their codes.
  std::vector<grpc::StatusCode> EveryRpc(const std::string& token) {
    using S = xai::v1::Explainer::Stub;
    xai::v1::ClassifyRequest classify;
    classify.mutable_model()->set_name("shapes");
    classify.mutable_image()->set_encoded(
        xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/circle_0.png"));
    xai::v1::GradCAMRequest gradcam;
    *gradcam.mutable_model() = classify.model();
    *gradcam.mutable_image() = classify.image();
    xai::v1::DecisionPathRequest path;
    *path.mutable_model() = classify.model();
    *path.mutable_image() = classify.image();
    xai::v1::DescribeModelRequest describe;
    *describe.mutable_model() = classify.model();
    return {
        Call<xai::v1::ClassifyRequest, xai::v1::ClassifyResponse>(&S::Classify, classify, token)
            .error_code(),
        Call<xai::v1::GradCAMRequest, xai::v1::GradCAMResponse>(&S::GradCAM, gradcam, token)
            .error_code(),
        Call<xai::v1::DecisionPathRequest, xai::v1::DecisionPathResponse>(&S::DecisionPath, path,
                                                                          token)
            .error_code(),
        Call<xai::v1::ListModelsRequest, xai::v1::ListModelsResponse>(&S::ListModels, {}, token)
            .error_code(),
        Call<xai::v1::DescribeModelRequest, xai::v1::DescribeModelResponse>(&S::DescribeModel,
                                                                            describe, token)
            .error_code(),
        Call<xai::v1::ModelStatisticsRequest, xai::v1::ModelStatisticsResponse>(&S::ModelStatistics,
                                                                                {}, token)
            .error_code(),
    };
  }

  std::string tokens_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(TokenServerTest, EveryRpcNeedsAValidTokenButHealthStaysOpen) {
  using C = grpc::StatusCode;
  const std::vector<C> ok(6, C::OK), unauthenticated(6, C::UNAUTHENTICATED);
  EXPECT_EQ(EveryRpc(""), unauthenticated);
  EXPECT_EQ(EveryRpc("not-a-token-0123456789abcdef"), unauthenticated);
  EXPECT_EQ(EveryRpc(kExplainToken), ok);
  EXPECT_EQ(EveryRpc(kAdminToken), ok);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse health;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel_)->Check(&context, {}, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // The message says what to send, and never echoes what was sent.
  const grpc::Status missing = ListModels(channel_);
  EXPECT_THAT(missing.error_message(), HasSubstr("authorization: Bearer <token>"));
  const grpc::Status wrong = ListModels(channel_, "wrong-token-0123456789abcdef");
  EXPECT_THAT(wrong.error_message(), Not(HasSubstr("wrong-token")));
}

TEST_F(TokenServerTest, MetricsNeedATokenToo) {
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto refused = http.Get("/metrics");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->get_header_value("WWW-Authenticate"), "Bearer realm=\"xai-metrics\"");
  auto wrong = http.Get("/metrics", {{"Authorization", "Bearer wrong-token-0123456789abcdef"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto scraped = http.Get("/metrics", {{"Authorization", std::string("Bearer ") + kExplainToken}});
  ASSERT_TRUE(scraped);
  EXPECT_EQ(scraped->status, 200);
  EXPECT_THAT(scraped->body, HasSubstr("xai_requests_total"));
}

TEST_F(TokenServerTest, ReloadTakesNewTokensAndKeepsTheOldOnABadFile) {
  const std::string fresh = "fresh-token-0123456789abcdef";
  std::ofstream(tokens_) << fresh << " explain\n";
  ASSERT_TRUE(server_->Reload().ok());
  EXPECT_EQ(ListModels(channel_, kExplainToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListModels(channel_, fresh).ok());
  std::ofstream(tokens_) << "short explain\n";
  EXPECT_EQ(server_->Reload().code(), core::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListModels(channel_, fresh).ok());
  std::filesystem::remove(tokens_);
  EXPECT_EQ(server_->Reload().code(), core::StatusCode::kNotFound);
  EXPECT_TRUE(ListModels(channel_, fresh).ok());
}

TEST(TokenStartTest, BadTokenSetupsFailAtStart) {
  ServerOptions options = Options();
  options.metrics_auth = true;
  EXPECT_THAT(Server::Start(options).status().message(),
              HasSubstr("--metrics-auth needs --auth-tokens"));
  options.metrics_auth = false;
  options.auth_tokens_file = WriteTokens("weak.tokens", "weak admin\n");
  EXPECT_EQ(Server::Start(options).status().code(), core::StatusCode::kInvalidArgument);
  options.auth_tokens_file = Dir() + "/no.tokens";
  EXPECT_EQ(Server::Start(options).status().code(), core::StatusCode::kNotFound);
}

// ---------------------------------------------------------------- calls per peer

TEST(PeerLimiterTest, CountsPerHostWhateverThePort) {
  EXPECT_EQ(PeerLimiter::Host("ipv4:10.0.0.7:5678"), "ipv4:10.0.0.7");
  EXPECT_EQ(PeerLimiter::Host("ipv6:[::1]:5678"), "ipv6:[::1]");
  EXPECT_EQ(PeerLimiter::Host("unix:/tmp/socket"), "unix:/tmp/socket");
  PeerLimiter limiter(2);
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.7:1"));
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.7:2"));
  EXPECT_FALSE(limiter.Acquire("ipv4:10.0.0.7:3"));
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.8:1"));
  limiter.Release("ipv4:10.0.0.7:1");
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.7:4"));
}

TEST(PeerLimiterTest, AServerRefusesCallsOverThePeersLimitAndCountsThemOutAgain) {
  ServerOptions options = Options();
  options.max_calls_per_peer = 2;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto channel = PlainChannel(server->port());
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name("shapes");
  request.mutable_image()->set_encoded(
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png"));
  constexpr int kCalls = 8;
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> callers;
  std::atomic<int> ready{0};
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      auto stub = xai::v1::Explainer::NewStub(channel);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      xai::v1::DecisionPathResponse response;
      ready.fetch_add(1);
      while (ready.load() < kCalls) std::this_thread::yield();
      statuses[i] = stub->DecisionPath(&context, request, &response);
    });
  }
  for (auto& t : callers) t.join();
  int ok = 0, refused = 0;
  for (const grpc::Status& s : statuses) {
    if (s.ok()) ++ok;
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_THAT(s.error_message(), HasSubstr("too many calls in flight from ipv4:127.0.0.1"));
    }
  }
  EXPECT_EQ(ok + refused, kCalls);
  EXPECT_GE(ok, 2);
  EXPECT_GE(refused, 1);
  // Every call was counted out: two at a time pass again.
  EXPECT_TRUE(ListModels(channel).ok());
  EXPECT_TRUE(ListModels(channel).ok());
}

}  // namespace
}  // namespace xai::server
