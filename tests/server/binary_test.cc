// xai-server and xai as a user runs them: flags, port 0 read back from the log, health and
// reflection through standard protocols, the CLI's output and exit codes, and SIGTERM.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/core/test_paths.h"
#include "tests/server/test_pki.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs `command` through the shell; returns its exit status and fills `output`.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  output->clear();
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BinaryTest : public ::testing::Test {
 protected:
  // Flags added to the server's command line, and the channel's credentials (a derived
  // fixture sets them).
  std::vector<std::string> extra_args_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();

  void SetUp() override {
    // A log of its own per server: reading a previous test's log would find its port.
    static int servers = 0;
    log_ = ::testing::TempDir() + "/xai_server_" + std::to_string(getpid()) + "_" +
           std::to_string(servers++) + ".log";
    std::filesystem::remove(log_);
    std::vector<std::string> args = {XAI_SERVER_BINARY,
                                     "--model-repository",
                                     xai::testing::FixtureRepo(),
                                     "--address",
                                     "127.0.0.1:0",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--http-address",
                                     "",
                                     "--log-level",
                                     "debug"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      freopen(log_.c_str(), "w", stdout);
      dup2(fileno(stdout), STDERR_FILENO);
      execv(XAI_SERVER_BINARY, argv.data());
      _exit(127);
    }
    const std::regex listening(R"(listening on .* \(port (\d+)\))");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (port_ == 0 && std::chrono::steady_clock::now() < give_up) {
      std::smatch match;
      const std::string log = xai::testing::ReadBytes(log_);
      if (std::regex_search(log, match, listening)) port_ = std::stoi(match[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(port_, 0) << xai::testing::ReadBytes(log_);
    channel_ = grpc::CreateChannel(address(), credentials_);
  }

  void TearDown() override {
    if (pid_ > 0 && !stopped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // SIGTERM, then the exit status; the log is complete afterwards.
  int Stop() {
    EXPECT_EQ(kill(pid_, SIGTERM), 0);
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    stopped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // SERVING status of a health service name, waiting up to `seconds` for it to be `want`.
  int WaitForHealth(const std::string& service, int want, int seconds) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    int status = -1;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    do {
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(service);
      grpc::health::v1::HealthCheckResponse response;
      status = stub->Check(&context, request, &response).ok() ? response.status() : -1;
      if (status == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < give_up);
    return status;
  }

  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool stopped_ = false;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(BinaryTest, ServesHealthReflectionAndTheCliThenStopsOnSigterm) {
  using Response = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(WaitForHealth("", Response::SERVING, 120), Response::SERVING);
  EXPECT_EQ(WaitForHealth("xai.v1.Explainer/tiny", Response::SERVING, 10), Response::SERVING);

  // Server reflection lists the services, as grpcurl would ask.
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& s : response.list_services_response().service()) services.insert(s.name());
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(services.count("xai.v1.Explainer"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));

  // The CLI: tables, JSON, and the server's message with exit status 1 on error.
  const std::string cli = std::string(XAI_CLI_BINARY) + " --server " + address();
  std::string out;
  EXPECT_EQ(RunCommand(cli + " models", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("resnet18 "));
  EXPECT_THAT(out, HasSubstr("has 2 labels but the model outputs 3 classes"));
  EXPECT_EQ(RunCommand(cli + " describe resnet18", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("layer4.1.conv2"));
  EXPECT_THAT(out, HasSubstr("[1, 512, 7, 7]"));
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  EXPECT_EQ(RunCommand(cli + " --json classify resnet18 " + image + " -k 2", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"probability\""));
  EXPECT_THAT(out, HasSubstr("\"label\": \"class_"));
  EXPECT_EQ(RunCommand(cli + " stats resnet18", &out), 0) << out;  // after the classify above
  EXPECT_THAT(out, ::testing::ContainsRegex("resnet18 +1 +Classify +1 +0 "));
  EXPECT_EQ(RunCommand(cli + " --json stats", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"success_count\": 1"));
  EXPECT_EQ(RunCommand(cli + " classify nope " + image, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND: model \"nope\" not found"));
  // One access line per call (the log is at debug level here, so INFO lines are in).
  const std::string log = xai::testing::ReadBytes(log_);
  EXPECT_THAT(
      log,
      ::testing::ContainsRegex(
          "\\[access\\] \\[info\\] id=[0-9a-f]+-[0-9]+ peer=ipv4:127\\.0\\.0\\.1:[0-9]+ caller=- "
          "rpc=Classify model=resnet18 version=1 method=- code=OK queue_ms=[0-9.]+ "
          "compute_ms=[0-9.]+ total_ms=[0-9.]+ batch=1 request_bytes=[1-9][0-9]* "
          "response_bytes=[1-9][0-9]*"));
  EXPECT_THAT(log, ::testing::ContainsRegex("rpc=Classify model=nope version=0 method=- "
                                            "code=NOT_FOUND queue_ms=0\\.000 compute_ms=0\\.000"));
  // The metrics endpoint of the binary counts the same calls.
  std::smatch metrics_port;
  ASSERT_TRUE(std::regex_search(log, metrics_port, std::regex(R"(metrics at \S+ \(port (\d+)\))")))
      << log;
  EXPECT_EQ(RunCommand("/usr/bin/python3 -c \"import sys, urllib.request\n"
                       "page = urllib.request.urlopen(sys.argv[1]).read().decode()\n"
                       "want = 'xai_requests_total{model=\\\"resnet18\\\",version=\\\"1\\\","
                       "rpc=\\\"Classify\\\",method=\\\"\\\",code=\\\"OK\\\"} 1'\n"
                       "assert want in page, page\" http://127.0.0.1:" +
                           metrics_port[1].str() + "/metrics",
                       &out),
            0)
      << out;
  // A file name that is not UTF-8 is written with U+FFFD in JSON, not an abort.
  const std::string latin1 = ::testing::TempDir() + "/image_\xff.png";
  std::filesystem::copy_file(image, latin1, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(RunCommand(cli + " --json classify shapes '" + latin1 + "' -k 1", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("image_\xef\xbf\xbd.png"));
  EXPECT_EQ(RunCommand(cli + " classify tiny " + log_, &out), 1) << out;  // a text file
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_NE(
      RunCommand(std::string(XAI_CLI_BINARY) + " --server 127.0.0.1:1 --timeout 2 models", &out),
      0);
  EXPECT_THAT(out, HasSubstr("UNAVAILABLE"));

  // gradcam: per image and target, .npy files exactly as numpy.load reads them, in an --out
  // directory that it makes; the JSON's cam_peak is numpy's argmax as (x, y).
  const std::string cam_dir =
      (std::filesystem::path(::testing::TempDir()) / ("xai_gradcam_" + std::to_string(getpid())))
          .string();
  const std::string gradcam =
      cli + " gradcam resnet18 " + image + " --no-overlay --out " + cam_dir + "/out";
  EXPECT_EQ(RunCommand(gradcam + " --target 3 --target 5 --layer layer3", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("CAM PEAK"));
  const std::string check_maps =
      "/usr/bin/python3 -c \"import sys, numpy as np\n"
      "a, r = np.load(sys.argv[1]), np.load(sys.argv[2])\n"
      "assert a.shape == (224, 224) and a.dtype == np.float32, (a.shape, a.dtype)\n"
      "assert 0 <= a.min() and a.max() <= 1, (a.min(), a.max())\n"
      "assert r.shape == (14, 14) and r.dtype == np.float32, (r.shape, r.dtype)\"";
  for (const std::string target : {"3", "5"}) {
    const std::string cam = cam_dir + "/out/image_" + target + "_cam.npy";
    const std::string raw = cam_dir + "/out/image_" + target + "_raw.npy";
    EXPECT_THAT(out, HasSubstr(cam));
    EXPECT_FALSE(std::filesystem::exists(cam_dir + "/out/image_" + target + "_overlay.png"));
    std::string python_out;
    EXPECT_EQ(RunCommand(check_maps + " " + cam + " " + raw, &python_out), 0) << python_out;
  }
  const std::string json_file = cam_dir + "/gradcam.json";
  EXPECT_EQ(RunCommand(cli + " --json gradcam resnet18 " + image +
                           " --no-overlay --method GradCAM++ --out " + cam_dir + " > " + json_file,
                       &out),
            0)
      << xai::testing::ReadBytes(json_file);
  const std::string check_peak =
      "/usr/bin/python3 -c \"import json, sys, numpy as np\n"
      "e = json.load(open(sys.argv[1]))['results'][0]['explanations'][0]\n"
      "a = np.load(e['cam']); y, x = np.unravel_index(a.argmax(), a.shape)\n"
      "assert e['cam_peak'] == [x, y] and e['overlay'] is None, e\"";
  EXPECT_EQ(RunCommand(check_peak + " " + json_file, &out), 0) << out;
  EXPECT_NE(RunCommand(gradcam + " --method nonsense", &out), 0);
  EXPECT_THAT(out, HasSubstr("nonsense not in {grad_cam,grad_cam_plus_plus,gradcam++,xgrad_cam"));
  std::filesystem::remove_all(cam_dir);

  // path: the diagram PNG and the JSON of the DecisionPath, in an --out it makes.
  const std::string path_dir = cam_dir + "_path";
  EXPECT_EQ(RunCommand(cli + " path shapes " + image + " --top-chains 2 --out " + path_dir, &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("stage1 -> stage2 -> stage3 -> stage4"));
  EXPECT_EQ(xai::testing::ReadBytes(path_dir + "/image_path.png").substr(0, 8),
            "\x89PNG\r\n\x1a\n");
  const std::string check_path =
      "/usr/bin/python3 -c \"import json, sys\n"
      "p = json.load(open(sys.argv[1]))\n"
      "assert p['layers'] == ['stage1', 'stage2', 'stage3', 'stage4'], p['layers']\n"
      "assert len(p['chains']) == 2 and all(len(c['channels']) == 4 for c in p['chains']), "
      "p['chains']\n"
      "assert p['chains'][0]['log_score'] >= p['chains'][1]['log_score']\n"
      "assert p['nodes'] and p['edges'], p\"";
  EXPECT_EQ(RunCommand(check_path + " " + path_dir + "/image_path.json", &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " path shapes " + image + " --target 9 --out " + path_dir, &out), 1)
      << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: target_class = 9"));
  std::filesystem::remove_all(path_dir);

  // compare: a row per method (CAM and attribution methods) with its scores and time, the
  // random map once, the grid PNG
  // (a header and a row per method: taller than wide); a method the server refuses (here for
  // the layer) shows its error and makes the exit status 1.
  const std::string compare_dir = cam_dir + "_compare";
  std::filesystem::create_directories(compare_dir);
  const std::string compare_json = compare_dir + "/compare.json";
  EXPECT_EQ(
      RunCommand(cli + " --json compare shapes " + image +
                     " --methods grad_cam,SCORE_CAM,xrai --repeat 1 --metrics-steps 4 --out " +
                     compare_dir + "/grid.png > " + compare_json,
                 &out),
      0)
      << xai::testing::ReadBytes(compare_json);
  const std::string check_compare =
      "/usr/bin/python3 -c \"import json, sys, cv2\n"
      "c = json.load(open(sys.argv[1]))\n"
      "assert [m['method'] for m in c['methods']] == ['GRAD_CAM', 'SCORE_CAM', 'XRAI'], c\n"
      "for m in c['methods']:\n"
      "    assert m['milliseconds'] > 0 and len(m['metrics']['deletion_curve']) == 5, m\n"
      "    assert 0 <= m['metrics']['deletion_auc'] <= 1, m\n"
      "assert len(c['random']['insertion_curve']) == 5, c\n"
      "g = cv2.imread(c['grid'])\n"
      "assert g is not None and g.shape[0] > g.shape[1], g.shape\"";
  EXPECT_EQ(RunCommand(check_compare + " " + compare_json, &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " compare resnet18 " + image +
                           " --methods grad_cam --layer fc --repeat 1 --out " + compare_dir +
                           "/refused.png",
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("is not a CAM layer"));
  // --layout: a layer's layout for one call, checked by the server; its form by the CLI.
  EXPECT_EQ(RunCommand(cli + " gradcam resnet18 " + image + " --layer layer4 --layout " +
                           "layer4=tokens:1 --out " + compare_dir,
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("layer_layouts[0] for layer \"layer4\": TOKENS needs a 3-D output"));
  EXPECT_EQ(RunCommand(cli + " gradcam resnet18 " + image + " --layer layer4 --layout " +
                           "layer4=nchw --out " + compare_dir,
                       &out),
            0)
      << out;
  EXPECT_NE(RunCommand(cli + " gradcam resnet18 " + image + " --layout layer4", &out), 0);
  EXPECT_THAT(out, HasSubstr("expected LAYER=NCHW, LAYER=NHWC or LAYER=TOKENS:PREFIX"));
  std::filesystem::remove_all(compare_dir);

  // attribute: per image and target, the attribution and its map as .npy and the overlay;
  // IG's error in the JSON; a field that does not apply: its status and exit 1; SmoothGrad
  // and XRAI with their options.
  const std::string attribute_dir = cam_dir + "_attribute";
  const std::string attribute_json = cam_dir + "_attribute.json";
  EXPECT_EQ(RunCommand(cli + " --json attribute shapes " + image +
                           " --method ig --steps 16 --baseline black --target 2 --out " +
                           attribute_dir + " > " + attribute_json,
                       &out),
            0)
      << xai::testing::ReadBytes(attribute_json);
  const std::string check_attribute =
      "/usr/bin/python3 -c \"import json, sys, numpy as np\n"
      "a = json.load(open(sys.argv[1]))['results'][0]['attributions'][0]\n"
      "x, m = np.load(a['attribution']), np.load(a['map'])\n"
      "assert a['target_class'] == 2 and a['steps'] == 16, a\n"
      "assert x.shape == (3, 64, 64) and m.shape == (64, 64), (x.shape, m.shape)\n"
      "assert np.allclose(x.sum(0), m, atol=1e-5), 'map is the channel sum'\n"
      "gap = a['logit'] - a['baseline_logit']\n"
      "assert abs(x.sum() - gap - a['convergence_delta']) < 1e-3 * max(1, abs(gap)), a\n"
      "assert open(a['overlay'], 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n', a\"";
  EXPECT_EQ(RunCommand(check_attribute + " " + attribute_json, &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image +
                           " --method gradient_shap --max-error 0.05 --out " + attribute_dir,
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: max_approximation_error applies to "
                             "INTEGRATED_GRADIENTS and XRAI only, not GRADIENT_SHAP"));
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image +
                           " --method smooth_grad --smooth ig --samples 2 --steps 4 --noise 0.1 "
                           "--seed 5 --out " +
                           attribute_dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("SMOOTH_GRAD"));
  EXPECT_EQ(
      RunCommand(cli + " attribute shapes " + image +
                     " --method xrai --steps 8 --polarity both --overlay-kind masked_image "
                     "--outline 10 --outline 25 --clip 99 --metrics --metrics-steps 4 --out " +
                     attribute_dir,
                 &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("_overlay.png"));
  EXPECT_THAT(out, HasSubstr("INSERTION AUC"));
  std::filesystem::remove_all(attribute_dir);
  std::filesystem::remove(attribute_json);

  // xai health: exit 0 and SERVING for the server and a ready model; 1 and the reason for
  // a model the server does not know.
  const std::string health = std::string(XAI_CLI_BINARY) + " --server " + address() + " ";
  EXPECT_EQ(RunCommand(health + "health", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("xai.v1.Explainer: SERVING"));
  EXPECT_EQ(RunCommand(health + "health tiny", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("xai.v1.Explainer/tiny: SERVING"));
  EXPECT_EQ(RunCommand(health + "health nope", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("SERVICE_UNKNOWN (the server knows no model \"nope\""));
  EXPECT_EQ(RunCommand(health + "--json health bad_labels", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("\"serving\": false"));
  EXPECT_THAT(out, HasSubstr("NOT_SERVING"));

  // SIGTERM: stops and exits 0.
  EXPECT_EQ(Stop(), 0) << xai::testing::ReadBytes(log_);
  EXPECT_THAT(xai::testing::ReadBytes(log_), HasSubstr("stopped"));
}

class DrainingBinaryTest : public BinaryTest {
 protected:
  DrainingBinaryTest() { extra_args_ = {"--drain-seconds", "3"}; }
};

TEST_F(DrainingBinaryTest, SigtermReportsNotServingAtOnceAndAnswersCallsWhileDraining) {
  using Response = grpc::health::v1::HealthCheckResponse;
  ASSERT_EQ(WaitForHealth("", Response::SERVING, 120), Response::SERVING);
  EXPECT_EQ(WaitForHealth("liveness", Response::SERVING, 5), Response::SERVING);
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  // Within a second every name but liveness reads NOT_SERVING, and calls still succeed.
  EXPECT_EQ(WaitForHealth("", Response::NOT_SERVING, 1), Response::NOT_SERVING);
  EXPECT_EQ(WaitForHealth("xai.v1.Explainer/tiny", Response::NOT_SERVING, 1),
            Response::NOT_SERVING);
  EXPECT_EQ(WaitForHealth("liveness", Response::SERVING, 1), Response::SERVING);
  std::string out;
  const std::string image = std::string(XAI_SOURCE_DIR) + "/samples/star_3.png";
  EXPECT_EQ(RunCommand(std::string(XAI_CLI_BINARY) + " --server " + address() +
                           " classify shapes " + image,
                       &out),
            0)
      << out;
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(3))
      << "the call was not made while draining";
  // Then it stops by itself and exits 0.
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  stopped_ = true;
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(3));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << xai::testing::ReadBytes(log_);
  EXPECT_THAT(xai::testing::ReadBytes(log_), HasSubstr("still answering calls for 3 s"));
}

class JsonLogBinaryTest : public BinaryTest {
 protected:
  JsonLogBinaryTest() { extra_args_ = {"--log-format", "json"}; }
};

TEST_F(JsonLogBinaryTest, EveryLineIsOneJsonObjectAndEveryCallHasItsAccessObject) {
  using Response = grpc::health::v1::HealthCheckResponse;
  ASSERT_EQ(WaitForHealth("xai.v1.Explainer/tiny", Response::SERVING, 120), Response::SERVING);
  auto stub = xai::v1::Explainer::NewStub(channel_);
  xai::v1::ClassifyRequest request;
  request.mutable_model()->set_name("tiny");
  auto* tensor = request.mutable_image()->mutable_tensor();
  for (int d : {3, 16, 16}) tensor->add_shape(d);
  tensor->set_data(std::string(3 * 16 * 16 * 4, '\0'));
  xai::v1::ClassifyResponse response;
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "trace-42");
    ASSERT_TRUE(stub->Classify(&context, request, &response).ok());
  }
  // A name with a quote and a newline cannot break its line.
  const std::string odd_name = "no\"such\nmodel";
  request.mutable_model()->set_name(odd_name);
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "trace-43");
    xai::v1::ClassifyResponse unused;
    EXPECT_EQ(stub->Classify(&context, request, &unused).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_EQ(Stop(), 0);

  std::istringstream log(xai::testing::ReadBytes(log_));
  std::map<std::string, nlohmann::json> access;  // by request id
  int lines = 0;
  bool listening = false;
  for (std::string line; std::getline(log, line);) {
    if (line.empty()) continue;
    ++lines;
    const nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(object.is_object()) << line;
    EXPECT_THAT(object.value("time", ""),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"))
        << line;
    EXPECT_TRUE(object.contains("level")) << line;
    if (object.value("logger", "") == "access") {
      access[object["request_id"]] = object;
    } else {
      EXPECT_TRUE(object["msg"].is_string()) << line;
      listening |= object["msg"].get<std::string>().find("listening on") != std::string::npos;
    }
  }
  EXPECT_GT(lines, 3);
  EXPECT_TRUE(listening);
  ASSERT_TRUE(access.count("trace-42"));
  const nlohmann::json& ok = access["trace-42"];
  EXPECT_EQ(ok["level"], "info");
  EXPECT_EQ(ok["rpc"], "Classify");
  EXPECT_EQ(ok["model"], "tiny");
  EXPECT_EQ(ok["version"], 1);
  EXPECT_EQ(ok["method"], "");
  EXPECT_EQ(ok["code"], "OK");
  EXPECT_EQ(ok["batch"], 1);
  EXPECT_THAT(ok["peer"].get<std::string>(), ::testing::StartsWith("ipv4:127.0.0.1:"));
  EXPECT_GE(ok["queue_ms"].get<double>(), 0);
  EXPECT_GT(ok["compute_ms"].get<double>(), 0);
  EXPECT_GE(ok["total_ms"].get<double>(),
            ok["compute_ms"].get<double>() + ok["queue_ms"].get<double>() - 0.002);
  request.mutable_model()->set_name("tiny");
  EXPECT_EQ(ok["request_bytes"], request.ByteSizeLong());
  EXPECT_EQ(ok["response_bytes"], response.ByteSizeLong());
  ASSERT_TRUE(access.count("trace-43"));
  const nlohmann::json& missing = access["trace-43"];
  EXPECT_EQ(missing["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(missing["model"], odd_name);
  EXPECT_EQ(missing["version"], 0);
  EXPECT_EQ(missing["response_bytes"], 0);
}

class QuietBinaryTest : public BinaryTest {
 protected:
  QuietBinaryTest() { extra_args_ = {"--access-log=false"}; }
};

TEST_F(QuietBinaryTest, AccessLogFalseWritesNoAccessLines) {
  using Response = grpc::health::v1::HealthCheckResponse;
  ASSERT_EQ(WaitForHealth("xai.v1.Explainer/shapes", Response::SERVING, 120), Response::SERVING);
  std::string out;
  const std::string image = std::string(XAI_SOURCE_DIR) + "/samples/star_3.png";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(RunCommand(std::string(XAI_CLI_BINARY) + " --server " + address() +
                             " classify shapes " + image,
                         &out),
              0)
        << out;
  }
  ASSERT_EQ(Stop(), 0);
  const std::string log = xai::testing::ReadBytes(log_);
  EXPECT_THAT(log, HasSubstr("listening on"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("[access]")));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("rpc=Classify")));
}

// TLS and tokens as an operator runs them: the CLI's options, and SIGHUP re-reading
// rotated certificates and tokens while the server runs.
class SecureBinaryTest : public BinaryTest {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/xai_secure_" + std::to_string(getpid());
    ASSERT_TRUE(xai::testing::MakePki(dir_, "a", &a_)) << xai::testing::ReadBytes(dir_ + "/a.log");
    ASSERT_TRUE(xai::testing::MakePki(dir_, "b", &b_)) << xai::testing::ReadBytes(dir_ + "/b.log");
    std::filesystem::copy_file(a_.server_cert, dir_ + "/server.pem",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(a_.server_key, dir_ + "/server.key",
                               std::filesystem::copy_options::overwrite_existing);
    std::ofstream(dir_ + "/tokens") << "# rotated by the test\n"
                                    << kOldToken << " explain backend\n";
    std::ofstream(dir_ + "/old.token") << kOldToken << "\n";
    std::ofstream(dir_ + "/new.token") << kNewToken << "\n";
    extra_args_ = {"--tls-cert",         dir_ + "/server.pem", "--tls-key",
                   dir_ + "/server.key", "--auth-tokens",      dir_ + "/tokens"};
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = xai::testing::ReadBytes(a_.ca);
    credentials_ = grpc::SslCredentials(ssl);
    BinaryTest::SetUp();
  }

  // The CLI against this server on localhost with `flags`.
  std::string Cli(const std::string& flags) const {
    return std::string(XAI_CLI_BINARY) + " --server localhost:" + std::to_string(port_) +
           " --timeout 5 " + flags;
  }

  static constexpr const char* kOldToken = "old-token-0123456789abcdef";
  static constexpr const char* kNewToken = "new-token-fedcba9876543210";
  std::string dir_;
  xai::testing::Pki a_, b_;
};

TEST_F(SecureBinaryTest, TheCliConnectsWithTlsAndATokenAndSighupRotatesBoth) {
  using Response = grpc::health::v1::HealthCheckResponse;
  // Health needs TLS but no token (the whole server: every fixture loaded).
  ASSERT_EQ(WaitForHealth("xai.v1.Explainer", Response::SERVING, 120), Response::SERVING);
  std::string out;
  const std::string a_ca = " --tls-ca " + a_.ca;
  EXPECT_EQ(RunCommand(Cli(a_ca + " health"), &out), 0) << out;
  EXPECT_EQ(RunCommand(Cli(a_ca + " --token-file " + dir_ + "/old.token models"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("shapes"));
  EXPECT_EQ(RunCommand("XAI_TOKEN=" + std::string(kOldToken) + " " + Cli(a_ca + " models"), &out),
            0)
      << out;
  EXPECT_EQ(RunCommand(Cli(a_ca + " models"), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("UNAUTHENTICATED: ListModels needs a token"));
  EXPECT_THAT(out, HasSubstr("(see --token-file or XAI_TOKEN)"));
  EXPECT_EQ(RunCommand(Cli("--token-file " + dir_ + "/old.token models"), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("does it need --tls?"));
  EXPECT_EQ(
      RunCommand(Cli("--tls-ca " + b_.ca + " --token-file " + dir_ + "/old.token models"), &out), 1)
      << out;

  // Rotate: the other PKI's certificate and a new token, then SIGHUP.
  std::filesystem::copy_file(b_.server_cert, dir_ + "/server.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(b_.server_key, dir_ + "/server.key",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir_ + "/tokens") << kNewToken << " explain backend\n";
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  const std::string b_new = " --tls-ca " + b_.ca + " --token-file " + dir_ + "/new.token models";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (RunCommand(Cli(b_new), &out) != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(RunCommand(Cli(b_new), &out), 0) << out;
  EXPECT_EQ(
      RunCommand(Cli(" --tls-ca " + b_.ca + " --token-file " + dir_ + "/old.token models"), &out),
      1);
  EXPECT_THAT(out, HasSubstr("UNAUTHENTICATED"));
  // A broken token file on the next SIGHUP is logged; the new token stays in force.
  std::ofstream(dir_ + "/tokens") << "weak explain\n";
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(RunCommand(Cli(b_new), &out), 0) << out;

  EXPECT_EQ(Stop(), 0);
  const std::string log = xai::testing::ReadBytes(log_);
  EXPECT_THAT(log, HasSubstr("TLS: serving /CN=server"));
  EXPECT_THAT(log, HasSubstr("(port " + std::to_string(port_) + "), TLS,"));
  EXPECT_THAT(log, HasSubstr("received SIGHUP"));
  EXPECT_THAT(log, HasSubstr("token file re-read: 1 token(s)"));
  EXPECT_THAT(log, HasSubstr("token file not reloaded, the previous tokens stay"));
  EXPECT_THAT(log, HasSubstr("caller=backend rpc=ListModels"));
  // Tokens never reach the log.
  EXPECT_THAT(log, Not(HasSubstr(kOldToken)));
  EXPECT_THAT(log, Not(HasSubstr(kNewToken)));
}

class AdminBinaryTest : public BinaryTest {
 protected:
  AdminBinaryTest() { extra_args_ = {"--enable-admin"}; }
};

TEST_F(AdminBinaryTest, TheCliLoadsUnloadsReloadsAndLists) {
  using Response = grpc::health::v1::HealthCheckResponse;
  ASSERT_EQ(WaitForHealth("xai.v1.Explainer", Response::SERVING, 120), Response::SERVING);
  const std::string cli = std::string(XAI_CLI_BINARY) + " --server " + address() + " ";
  std::string out;
  EXPECT_EQ(RunCommand(cli + "admin reload tiny", &out), 0) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("tiny +1 +READY"));
  EXPECT_EQ(RunCommand(cli + "admin list", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("MODEL"));
  EXPECT_THAT(out, ::testing::ContainsRegex("tiny +1 +READY +yes +0 +0/2"));
  EXPECT_EQ(RunCommand(cli + "admin unload tiny", &out), 0) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("tiny +1 +UNLOADED"));
  EXPECT_EQ(RunCommand(cli + "--json admin load tiny", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"state\": \"READY\""));
  EXPECT_EQ(RunCommand(cli + "admin reload nope", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(RunCommand(cli + "admin", &out), 106) << out;  // CLI11: a subcommand is required
  EXPECT_EQ(Stop(), 0);
}

// The soak: 16 clients on loopback mixing every RPC with good and bad inputs, cancelled
// calls and tiny deadlines, for 60 s after a loaded warm-up. Every call is answered, no
// good call fails, and the server's resident memory ends within 10% of its level after
// the warm-up.
class SoakBinaryTest : public BinaryTest {
 protected:
  // Resident memory of the server, in KiB.
  long ResidentKib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }
};

// 10 s of warm-up, then XAI_SOAK_SECONDS (default 30) measured in six samples: longer by
// hand (XAI_SOAK_SECONDS=600 ctest -R Soak) before a release.
TEST_F(SoakBinaryTest, SixteenClientsForHalfAMinuteAnswerEveryCallAndKeepTheirMemory) {
  const char* soak_env = std::getenv("XAI_SOAK_SECONDS");
  const int soak_seconds = std::max(6, soak_env != nullptr ? std::atoi(soak_env) : 30);
  using Response = grpc::health::v1::HealthCheckResponse;
  ASSERT_EQ(WaitForHealth("xai.v1.Explainer", Response::SERVING, 120), Response::SERVING);
  const std::string image =
      xai::testing::ReadBytes(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png");
  struct Tally {
    long calls = 0, good_ok = 0, good_failed = 0, bad_right_code = 0, raced = 0;
    std::vector<std::string> failures;
  };
  std::atomic<int> phase{0};  // 0 warm-up, 1 measured, 2 stop
  auto client = [&](int id, Tally* tally) {
    auto stub = xai::v1::Explainer::NewStub(channel_);
    auto health = grpc::health::v1::Health::NewStub(channel_);
    for (long i = 0; phase.load() < 2; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const int kind = static_cast<int>((i * 7 + id) % 12);
      grpc::Status status;
      grpc::StatusCode expected = grpc::StatusCode::OK;
      bool racy = false;  // a cancelled call or a tiny deadline: OK or its own code
      xai::v1::ClassifyRequest classify;
      classify.mutable_model()->set_name("shapes");
      classify.mutable_image()->set_encoded(image);
      xai::v1::ClassifyResponse classified;
      switch (kind) {
        case 0:
        case 1:
          status = stub->Classify(&context, classify, &classified);
          break;
        case 2: {
          xai::v1::GradCAMRequest request;
          *request.mutable_model() = classify.model();
          *request.mutable_image() = classify.image();
          request.mutable_overlay()->set_enabled(true);
          xai::v1::GradCAMResponse response;
          status = stub->GradCAM(&context, request, &response);
          break;
        }
        case 3: {
          xai::v1::DecisionPathRequest request;
          *request.mutable_model() = classify.model();
          *request.mutable_image() = classify.image();
          xai::v1::DecisionPathResponse response;
          status = stub->DecisionPath(&context, request, &response);
          break;
        }
        case 4: {
          xai::v1::ListModelsResponse response;
          status = stub->ListModels(&context, {}, &response);
          break;
        }
        case 5: {
          xai::v1::DescribeModelRequest request;
          request.mutable_model()->set_name("tiny");
          xai::v1::DescribeModelResponse response;
          status = stub->DescribeModel(&context, request, &response);
          break;
        }
        case 6: {
          xai::v1::ModelStatisticsResponse response;
          status = stub->ModelStatistics(&context, {}, &response);
          break;
        }
        case 7: {
          grpc::health::v1::HealthCheckRequest request;
          grpc::health::v1::HealthCheckResponse response;
          status = health->Check(&context, request, &response);
          break;
        }
        case 8:  // not an image
          classify.mutable_image()->set_encoded("garbage" + std::to_string(i));
          expected = grpc::StatusCode::INVALID_ARGUMENT;
          status = stub->Classify(&context, classify, &classified);
          break;
        case 9:  // a long name that matches no model
          classify.mutable_model()->set_name(std::string(5000 + i % 100, 'n'));
          expected = grpc::StatusCode::INVALID_ARGUMENT;
          status = stub->Classify(&context, classify, &classified);
          break;
        case 10: {  // cancelled at once
          racy = true;
          expected = grpc::StatusCode::CANCELLED;
          std::thread cancel([&context] { context.TryCancel(); });
          status = stub->Classify(&context, classify, &classified);
          cancel.join();
          break;
        }
        default:  // a deadline of a millisecond
          racy = true;
          expected = grpc::StatusCode::DEADLINE_EXCEEDED;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
          status = stub->Classify(&context, classify, &classified);
          break;
      }
      if (phase.load() != 1) continue;
      ++tally->calls;
      if (racy) {
        if (status.ok() || status.error_code() == expected) {
          ++tally->raced;
        } else {
          tally->failures.push_back(std::to_string(kind) + ": " + status.error_message());
        }
      } else if (expected == grpc::StatusCode::OK) {
        status.ok() ? ++tally->good_ok : ++tally->good_failed;
        if (!status.ok()) {
          tally->failures.push_back(std::to_string(kind) + ": " + status.error_message());
        }
      } else if (status.error_code() == expected) {
        ++tally->bad_right_code;
      } else {
        tally->failures.push_back(std::to_string(kind) + " expected " + std::to_string(expected) +
                                  ": " + status.error_message());
      }
    }
  };
  constexpr int kClients = 16;
  std::vector<Tally> tallies(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back(client, c, &tallies[c]);
  std::this_thread::sleep_for(std::chrono::seconds(10));  // loaded warm-up
  const long warm = ResidentKib();
  phase.store(1);
  std::vector<long> samples;
  for (int s = 0; s < 6; ++s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(soak_seconds * 1000 / 6));
    samples.push_back(ResidentKib());
  }
  phase.store(2);
  for (auto& t : clients) t.join();  // every call has a deadline: none can hang
  Tally all;
  for (const Tally& t : tallies) {
    all.calls += t.calls, all.good_ok += t.good_ok, all.good_failed += t.good_failed;
    all.bad_right_code += t.bad_right_code, all.raced += t.raced;
    all.failures.insert(all.failures.end(), t.failures.begin(), t.failures.end());
  }
  std::string trace = "resident KiB after warm-up " + std::to_string(warm) + ", then";
  for (long s : samples) trace += " " + std::to_string(s);
  std::printf(
      "soak: %ld calls in %d s (%ld good OK, %ld bad with their code, %ld cancelled or "
      "timed out); %s\n",
      all.calls, soak_seconds, all.good_ok, all.bad_right_code, all.raced, trace.c_str());
  EXPECT_GT(all.calls, 500);
  EXPECT_EQ(all.good_failed, 0);
  EXPECT_THAT(all.failures, ::testing::IsEmpty());
  EXPECT_EQ(all.calls, all.good_ok + all.bad_right_code + all.raced);
  ASSERT_GT(warm, 0);
  EXPECT_LE(samples.back(), warm * 11 / 10) << trace;
  EXPECT_EQ(Stop(), 0);
}

// A loopback port that was free a moment ago.
int FreePort() {
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  close(probe);
  return ntohs(address.sin_port);
}

TEST(BinaryFaultTest, AFullDiskForLogsChangesNothingButTheLogs) {
  // stdout and stderr on /dev/full: every log write fails with ENOSPC.
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/full", "w", stdout);
    dup2(fileno(stdout), STDERR_FILENO);
    execl(XAI_SERVER_BINARY, XAI_SERVER_BINARY, "--model-repository",
          (std::string(XAI_SOURCE_DIR) + "/models").c_str(), "--address", address.c_str(),
          "--metrics-address=off", "--http-address=off", "--log-level", "debug",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string cli = std::string(XAI_CLI_BINARY) + " --server " + address + " --timeout 3 ";
  std::string out;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (RunCommand(cli + "health", &out) != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(RunCommand(cli + "health", &out), 0) << out;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(RunCommand(cli + "classify shapes " + XAI_SOURCE_DIR + "/samples/star_3.png", &out),
              0)
        << out;
  }
  EXPECT_THAT(out, HasSubstr("star"));
  EXPECT_EQ(RunCommand(cli + "classify nope " + XAI_SOURCE_DIR + "/samples/star_3.png", &out), 1);
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(BinaryHelpTest, AMetricsAddressThatCannotBeBoundExitsAtStartWithTheReason) {
  // A port this test holds.
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string held = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const std::string server = std::string(XAI_SERVER_BINARY) + " --model-repository " +
                             xai::testing::FixtureRepo() + " --address 127.0.0.1:0";
  std::string out;
  EXPECT_EQ(RunCommand(server + " --metrics-address " + held, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("cannot listen for metrics on " + held + ": Address already in use"));
  close(holder);
  EXPECT_EQ(RunCommand(server + " --metrics-address metrics", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("metrics address 'metrics' is not host:port"));
}

TEST(BinaryHelpTest, HealthOfNoServerFailsWithinItsTimeoutWithAReason) {
  // A closed port on this machine: refused at once; the timeout bounds it anyway.
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      RunCommand(std::string(XAI_CLI_BINARY) + " --server 127.0.0.1:1 --timeout 3 health", &out), 1)
      << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(out, HasSubstr("xai health: xai.v1.Explainer: UNREACHABLE (UNAVAILABLE"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST(BinaryHelpTest, HelpListsTheFlags) {
  std::string out;
  EXPECT_EQ(RunCommand(std::string(XAI_SERVER_BINARY) + " --help", &out), 0);
  for (const char* flag : {"--model-repository", "--address",           "--log-level",
                           "--log-format",       "--access-log",        "--metrics-address",
                           "--intra-op-threads", "--max-request-bytes", "--max-image-pixels",
                           "--tls-cert",         "--tls-key",           "--tls-client-ca",
                           "--health-address",   "--auth-tokens",       "--metrics-auth",
                           "--reload-seconds",   "--reflection",        "SIGHUP",
                           "--enable-admin",     "--poll-repository",   "--http-address",
                           "--web-page"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
  EXPECT_EQ(RunCommand(std::string(XAI_CLI_BINARY) + " --help", &out), 0);
  for (const char* word :
       {"models", "stats", "describe", "classify", "gradcam", "path", "health", "--server",
        "--timeout", "--json", "--tls", "--tls-ca", "--tls-cert", "--tls-key", "--tls-server-name",
        "--token-file", "XAI_TOKEN", "admin"}) {
    EXPECT_THAT(out, HasSubstr(word));
  }
  EXPECT_NE(RunCommand(std::string(XAI_SERVER_BINARY) +
                           " --model-repository /nonexistent --address 127.0.0.1:0",
                       &out),
            0);
  EXPECT_THAT(out, HasSubstr("/nonexistent"));
}

}  // namespace
