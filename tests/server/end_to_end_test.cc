// A real server on localhost:0, driven through the generated stub: every RPC, every status
// code of docs/API.md's table, health, and shutdown with calls in flight.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <set>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/logging.h"
#include "server/server.h"
#include "tests/core/metrics/metrics_page.h"
#include "tests/core/test_paths.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxRequestBytes = 4 * 1024 * 1024;

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    options.http_address = "";
    options.max_request_bytes = kMaxRequestBytes;
    options.explainer.model_repository = xai::testing::FixtureRepo();
    options.explainer.max_image_pixels = 1'000'000;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server).release();
    server_->explainer().WaitUntilLoaded();
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    delete server_;
  }

  std::unique_ptr<xai::v1::Explainer::Stub> stub_ = xai::v1::Explainer::NewStub(*channel_);

  static grpc::Status Classify(const xai::v1::ClassifyRequest& request,
                               xai::v1::ClassifyResponse* response,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return xai::v1::Explainer::NewStub(*channel_)->Classify(&context, request, response);
  }

  static xai::v1::ClassifyRequest Request(const std::string& model, const std::string& encoded) {
    xai::v1::ClassifyRequest request;
    request.mutable_model()->set_name(model);
    request.mutable_image()->set_encoded(encoded);
    return request;
  }

  static std::string Png(int width, int height) {
    std::vector<uchar> buffer;
    cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(30, 60, 90)), buffer);
    return std::string(buffer.begin(), buffer.end());
  }

  static Server* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

Server* EndToEndTest::server_ = nullptr;
std::shared_ptr<grpc::Channel>* EndToEndTest::channel_ = nullptr;

TEST_F(EndToEndTest, ListModelsShowsReadyAndFailedWithReasons) {
  grpc::ClientContext context;
  xai::v1::ListModelsResponse response;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &response).ok());
  std::map<std::string, xai::v1::ModelStatus> by_name;
  for (const auto& m : response.models()) by_name[m.name()] = m;
  EXPECT_EQ(by_name["resnet18"].state(), "READY");
  EXPECT_EQ(by_name["resnet18_scripted"].state(), "READY");
  EXPECT_EQ(by_name["resnet18"].devices(0), "cpu");
  EXPECT_EQ(by_name["bad_labels"].state(), "FAILED");
  EXPECT_THAT(by_name["bad_labels"].reason(), HasSubstr("has 2 labels"));
}

TEST_F(EndToEndTest, DescribeModelGivesLayersAndShapes) {
  grpc::ClientContext context;
  xai::v1::DescribeModelRequest request;
  request.mutable_model()->set_name("resnet18");
  xai::v1::DescribeModelResponse r;
  ASSERT_TRUE(stub_->DescribeModel(&context, request, &r).ok());
  EXPECT_EQ(r.model().version(), 1);
  EXPECT_EQ(std::vector<int64_t>(r.input_shape().begin(), r.input_shape().end()),
            (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(r.num_classes(), 1000);
  EXPECT_EQ(r.labels_size(), 1000);
  EXPECT_EQ(r.default_cam_layer(), "layer4");
  EXPECT_EQ(r.default_path_layers_size(), 4);
  bool found = false;
  for (const auto& layer : r.layers()) {
    if (layer.path() != "layer3.1.conv2") continue;
    found = true;
    EXPECT_EQ(layer.type(), "Conv2d");
    EXPECT_EQ(std::vector<int64_t>(layer.output_shape().begin(), layer.output_shape().end()),
              (std::vector<int64_t>{1, 256, 14, 14}));
    EXPECT_TRUE(layer.cam_target());
    EXPECT_EQ(layer.ablation_cam(), "suffix");
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(r.layers(r.layers_size() - 1).cam_target());     // fc
  EXPECT_EQ(r.layers(r.layers_size() - 1).ablation_cam(), "");  // not a feature map
  // The served methods, from the tables (tests/server/method_tables_test.cc checks them).
  ASSERT_EQ(r.methods_size(), 15);
  EXPECT_EQ(r.methods(0).name(), "GRAD_CAM");
  EXPECT_EQ(r.methods(0).rpc(), "GradCAM");
  EXPECT_EQ(r.methods(0).title(), "Grad-CAM");
  EXPECT_EQ(r.methods(0).family(), "gradient-weighted");
  EXPECT_EQ(r.methods(14).name(), "XRAI");
  EXPECT_EQ(r.methods(14).rpc(), "Attribute");
  EXPECT_EQ(r.methods(14).family(), "regions");
}

TEST_F(EndToEndTest, ClassifyMatchesPyTorchForTensorAndEncodedInput) {
  const std::string dir = xai::testing::ReferenceDir();
  xai::v1::ClassifyRequest tensor_request;
  tensor_request.mutable_model()->set_name("resnet18");
  auto* tensor = tensor_request.mutable_image()->mutable_tensor();
  for (int64_t d : {3, 224, 224}) tensor->add_shape(d);
  tensor->set_data(xai::testing::ReadBytes(dir + "/input_0.bin"));
  const auto encoded_request = Request("resnet18", xai::testing::ReadBytes(dir + "/image.png"));

  for (const auto& [request, reference] :
       {std::pair{tensor_request, dir + "/resnet18_0.bin"},
        std::pair{encoded_request, dir + "/resnet18_image.bin"}}) {
    xai::v1::ClassifyResponse response;
    const grpc::Status status = Classify(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::vector<float> expected = xai::testing::ReadFloats(reference);
    ASSERT_EQ(response.classes_size(), 5);
    EXPECT_EQ(response.model().name(), "resnet18");
    EXPECT_EQ(response.model().version(), 1);
    const int best =
        static_cast<int>(std::max_element(expected.begin(), expected.end()) - expected.begin());
    EXPECT_EQ(response.classes(0).index(), best);
    for (const auto& c : response.classes()) {
      EXPECT_NEAR(c.probability(), expected[c.index()], 1e-4);
      EXPECT_EQ(c.label(), "class_" + std::to_string(c.index()));
    }
  }
}

struct CodeCase {
  std::string name;
  std::function<void(xai::v1::ClassifyRequest*)> edit;
  grpc::StatusCode code;
  std::string message;
};

TEST_F(EndToEndTest, EveryBadInputGetsItsCodeAndTheServerKeepsServing) {
  const std::string png = Png(16, 16);
  std::vector<CodeCase> cases = {
      {"undecodable", [](auto* r) { r->mutable_image()->set_encoded("not an image at all"); },
       grpc::StatusCode::INVALID_ARGUMENT, "image.encoded"},
      {"empty bytes", [](auto* r) { r->mutable_image()->set_encoded(""); },
       grpc::StatusCode::INVALID_ARGUMENT, "image.encoded is empty"},
      {"no image", [](auto* r) { r->clear_image(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "image is required"},
      {"negative top_k", [](auto* r) { r->set_top_k(-1); }, grpc::StatusCode::INVALID_ARGUMENT,
       "top_k must be >= 0"},
      {"tensor shape",
       [](auto* r) {
         auto* t = r->mutable_image()->mutable_tensor();
         t->add_shape(3), t->add_shape(8), t->add_shape(8);
         t->set_data(std::string(3 * 8 * 8 * 4, '\0'));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "image.tensor.shape must be [3, 16, 16]"},
      {"tensor NaN",
       [](auto* r) {
         auto* t = r->mutable_image()->mutable_tensor();
         t->add_shape(3), t->add_shape(16), t->add_shape(16);
         std::vector<float> values(3 * 16 * 16, std::nanf(""));
         t->set_data(std::string(reinterpret_cast<char*>(values.data()), values.size() * 4));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "NaN"},
      {"path characters", [](auto* r) { r->mutable_model()->set_name("../tiny"); },
       grpc::StatusCode::INVALID_ARGUMENT, "model.name"},
      {"unknown model", [](auto* r) { r->mutable_model()->set_name("nope"); },
       grpc::StatusCode::NOT_FOUND, "model \"nope\" not found"},
      {"unknown version", [](auto* r) { r->mutable_model()->set_version(7); },
       grpc::StatusCode::NOT_FOUND, "has no version 7"},
      {"failed model", [](auto* r) { r->mutable_model()->set_name("bad_labels"); },
       grpc::StatusCode::UNAVAILABLE, "has 2 labels"},
      {"pixel limit", [](auto* r) { r->mutable_image()->set_encoded(Png(1001, 1000)); },
       grpc::StatusCode::INVALID_ARGUMENT, "over the limit of 1000000 pixels"},
      {"request size",
       [](auto* r) { r->mutable_image()->set_encoded(std::string(kMaxRequestBytes + 1, 'x')); },
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
      {"model throws",
       [](auto* r) {
         r->mutable_model()->set_name("flaky");
         auto* t = r->mutable_image()->mutable_tensor();
         t->add_shape(3), t->add_shape(16), t->add_shape(16);
         std::vector<float> values(3 * 16 * 16, 1000.0f);
         t->set_data(std::string(reinterpret_cast<char*>(values.data()), values.size() * 4));
       },
       grpc::StatusCode::INTERNAL, "request id"},
  };
  for (const CodeCase& c : cases) {
    xai::v1::ClassifyRequest request = Request("tiny", png);
    c.edit(&request);
    xai::v1::ClassifyResponse response;
    const grpc::Status status = Classify(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
  }
  xai::v1::ClassifyResponse response;
  ASSERT_TRUE(Classify(Request("tiny", png), &response).ok());  // still serving
  EXPECT_EQ(response.classes_size(), 3);                        // top_k 5 capped at 3 classes
  EXPECT_EQ(response.classes(0).label().empty(), false);
}

TEST_F(EndToEndTest, PassedDeadlineIsDeadlineExceeded) {
  xai::v1::ClassifyResponse response;
  const grpc::Status status = Classify(
      Request("resnet18", xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png")),
      &response, std::chrono::milliseconds(1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(EndToEndTest, ACallCancelledWhileQueuedIsDroppedWithoutRunning) {
  // resnet18 has one instance and no batcher: of two calls, one runs and the other waits.
  // Which one arrived first is up to the transport, so the caller cancels both: the one
  // running finishes anyway, the one queued must be dropped without running.
  const auto request =
      Request("resnet18", xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png"));
  auto classify_counts = [] {
    auto statistics = server_->explainer().Statistics({"resnet18", 1});
    EXPECT_TRUE(statistics.ok());
    const auto& methods = (*statistics)[0].methods;
    core::MethodStatistics none;
    const core::MethodStatistics& s = methods.count("Classify") ? methods.at("Classify") : none;
    return std::tuple(s.success_count, s.failure_count,
                      s.batch_size_counts.count(1) ? s.batch_size_counts.at(1) : 0);
  };
  // On a loaded machine the first call may finish before the second arrives: then both
  // ran, and the attempt is made again (the counts are taken per attempt).
  auto before = classify_counts();
  std::unique_ptr<grpc::ClientContext> contexts[2];
  std::future<grpc::Status> calls[2];
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0; attempt < 10; ++attempt) {
    before = classify_counts();
    for (int i = 0; i < 2; ++i) {
      contexts[i] = std::make_unique<grpc::ClientContext>();
      calls[i] = std::async(std::launch::async, [&, i] {
        xai::v1::ClassifyResponse response;
        return xai::v1::Explainer::NewStub(*channel_)->Classify(contexts[i].get(), request,
                                                                &response);
      });
    }
    // One queued while the other runs: a call queued for an idle instance, before the
    // other has even reached the server, would not do (cancelled, the other one would
    // never reach the server, and no count would see it).
    auto one_runs_one_waits = [] {
      for (const core::ModelVersionStatus& m : server_->explainer().ListModels()) {
        if (m.name == "resnet18") return m.busy_instances == 1 && m.queued == 1;
      }
      return false;
    };
    const auto attempt_ends = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!one_runs_one_waits() && std::chrono::steady_clock::now() < attempt_ends) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (one_runs_one_waits()) break;
    for (auto& call : calls) EXPECT_TRUE(call.get().ok());  // neither waited: both ran
  }
  ASSERT_EQ(server_->explainer().queued(), 1) << "in 10 tries no call waited behind the other";
  for (auto& context : contexts) context->TryCancel();
  // The running call may have answered between the check and the cancel (a loaded
  // machine): then it is OK, but the queued one is always CANCELLED.
  int cancelled = 0;
  for (auto& call : calls) {
    const grpc::StatusCode code = call.get().error_code();
    EXPECT_TRUE(code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::OK) << code;
    cancelled += code == grpc::StatusCode::CANCELLED;
  }
  EXPECT_GE(cancelled, 1);
  // The server answers the queued call when its instance looks at the queue again.
  auto after = classify_counts();
  while (std::get<0>(after) + std::get<1>(after) < std::get<0>(before) + std::get<1>(before) + 2 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    after = classify_counts();
  }
  EXPECT_EQ(std::get<0>(after) - std::get<0>(before), 1u) << "the running call did not finish";
  EXPECT_EQ(std::get<1>(after) - std::get<1>(before), 1u) << "the queued call was not dropped";
  EXPECT_EQ(std::get<2>(after) - std::get<2>(before), 1u)
      << "the queued call ran although cancelled";
  EXPECT_EQ(server_->explainer().queued(), 0);
}

TEST_F(EndToEndTest, GradCamReturnsMapsPerTargetOverTheWire) {
  grpc::ClientContext context;
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18_scripted");
  request.mutable_image()->set_encoded(
      xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png"));
  request.add_target_classes(7);
  request.add_target_classes(3);
  request.add_layers("layer3");
  request.set_method(xai::v1::GRAD_CAM_PLUS_PLUS);
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "resnet18_scripted");
  EXPECT_EQ(response.classes_size(), 5);
  ASSERT_EQ(response.explanations_size(), 2);
  EXPECT_EQ(response.explanations(0).target_class(), 7);
  EXPECT_EQ(response.explanations(1).target_class(), 3);
  const xai::v1::Tensor& cam = response.explanations(0).cam();
  EXPECT_EQ(std::vector<int64_t>(cam.shape().begin(), cam.shape().end()),
            (std::vector<int64_t>{224, 224}));
  ASSERT_EQ(cam.data().size(), 224u * 224u * 4u);
  std::vector<float> values(224 * 224);
  std::memcpy(values.data(), cam.data().data(), cam.data().size());
  EXPECT_GE(*std::min_element(values.begin(), values.end()), 0.0f);
  EXPECT_LE(*std::max_element(values.begin(), values.end()), 1.0f);
  const xai::v1::Tensor& raw = response.explanations(1).raw();
  EXPECT_EQ(std::vector<int64_t>(raw.shape().begin(), raw.shape().end()),
            (std::vector<int64_t>{14, 14}));
  EXPECT_EQ(raw.data().size(), 14u * 14u * 4u);
  // eigen_smooth reaches the engine: another map of the same shape and range.
  request.set_eigen_smooth(true);
  grpc::ClientContext smooth_context;
  xai::v1::GradCAMResponse smoothed;
  ASSERT_TRUE(stub_->GradCAM(&smooth_context, request, &smoothed).ok());
  ASSERT_EQ(smoothed.explanations_size(), 2);
  const std::string& smooth_cam = smoothed.explanations(0).cam().data();
  ASSERT_EQ(smooth_cam.size(), cam.data().size());
  EXPECT_NE(smooth_cam, cam.data());
  std::memcpy(values.data(), smooth_cam.data(), smooth_cam.size());
  EXPECT_GE(*std::min_element(values.begin(), values.end()), 0.0f);
  EXPECT_FLOAT_EQ(*std::max_element(values.begin(), values.end()), 1.0f);
}

TEST_F(EndToEndTest, GradCamMetricsComeBackOverTheWire) {
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(
      xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png"));
  request.add_target_classes(7);
  request.mutable_metrics()->set_enabled(true);
  request.mutable_metrics()->set_steps(3);
  request.mutable_metrics()->set_random_baseline(true);
  grpc::ClientContext context;
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.explanations_size(), 1);
  ASSERT_TRUE(response.explanations(0).has_metrics());
  const xai::v1::FaithfulnessMetrics& m = response.explanations(0).metrics();
  EXPECT_GT(m.probability(), 0.0f);
  ASSERT_EQ(m.map().deletion_curve_size(), 4);
  ASSERT_EQ(m.map().insertion_curve_size(), 4);
  EXPECT_EQ(m.map().deletion_curve(0), m.probability());
  EXPECT_EQ(m.map().insertion_curve(0), m.blurred_probability());
  EXPECT_GT(m.map().top20_probability(), 0.0f);
  ASSERT_TRUE(m.has_random());
  EXPECT_EQ(m.random().deletion_curve_size(), 4);
  // Steps outside [1, 256]: INVALID_ARGUMENT naming the field.
  request.mutable_metrics()->set_steps(300);
  grpc::ClientContext bad_context;
  const grpc::Status bad = stub_->GradCAM(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("metrics.steps must be in [1, 256]"));
}

TEST_F(EndToEndTest, AttributeReturnsAttributionsAndTheirErrorOverTheWire) {
  xai::v1::AttributeRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(
      xai::testing::ReadBytes(xai::testing::ReferenceDir() + "/image.png"));
  request.add_target_classes(7);
  request.add_target_classes(3);
  request.set_steps(4);
  request.add_baselines(xai::v1::BLACK);
  request.set_rule(xai::v1::RIEMANN_MIDDLE);
  grpc::ClientContext context;
  xai::v1::AttributeResponse response;
  const grpc::Status status = stub_->Attribute(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "resnet18");
  EXPECT_EQ(response.classes_size(), 5);
  ASSERT_EQ(response.attributions_size(), 2);
  const xai::v1::Attribution& a = response.attributions(0);
  EXPECT_EQ(a.target_class(), 7);
  EXPECT_EQ(std::vector<int64_t>(a.attribution().shape().begin(), a.attribution().shape().end()),
            (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(a.attribution().data().size(), 3u * 224 * 224 * 4);
  EXPECT_EQ(std::vector<int64_t>(a.map().shape().begin(), a.map().shape().end()),
            (std::vector<int64_t>{224, 224}));
  EXPECT_EQ(a.steps(), 4);
  EXPECT_GT(a.approximation_error(), 0.0f);
  EXPECT_NEAR(a.approximation_error(),
              std::abs(a.convergence_delta()) / std::abs(a.logit() - a.baseline_logit()), 1e-4);
  // XRAI: the same attribution shape, a map of region gains; bad steps: INVALID_ARGUMENT.
  request.set_method(xai::v1::XRAI);
  grpc::ClientContext xrai_context;
  ASSERT_TRUE(stub_->Attribute(&xrai_context, request, &response).ok());
  const xai::v1::Attribution& x = response.attributions(0);
  EXPECT_EQ(x.map().data().size(), 224u * 224 * 4);
  EXPECT_EQ(x.steps(), 4);
  EXPECT_GT(x.approximation_error(), 0.0f);
  request.set_method(xai::v1::SALIENCY);
  request.set_steps(-3);
  grpc::ClientContext bad_context;
  const grpc::Status bad = stub_->Attribute(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("steps must be in [1, 1024] (0: 50), got -3"));
}

TEST_F(EndToEndTest, GradCamBadLayerIsInvalidArgument) {
  grpc::ClientContext context;
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name("resnet18");
  request.mutable_image()->set_encoded(Png(32, 32));
  request.add_layers("layer9");
  xai::v1::GradCAMResponse response;
  const grpc::Status status = stub_->GradCAM(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("closest CAM layers: layer1"));
}

xai::v1::DecisionPathRequest PlantedPathRequest(int target) {
  xai::v1::DecisionPathRequest request;
  request.mutable_model()->set_name("planted");
  auto* t = request.mutable_image()->mutable_tensor();
  t->add_shape(3), t->add_shape(8), t->add_shape(8);
  std::vector<float> values(3 * 8 * 8);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = 0.5f + 0.4f * std::sin(0.7f * i);  // positive
  t->set_data(std::string(reinterpret_cast<char*>(values.data()), values.size() * sizeof(float)));
  request.set_target_class(target);
  return request;
}

// proto3 `optional`: a field left unset is not a field set to 0. An unset target_class is
// the top-1 class (it was class 0); an unset image_weight is 0.5, and 0 the heatmap alone.
TEST_F(EndToEndTest, UnsetOptionalFieldsTakeTheirDefaultsAndZeroIsZero) {
  // An input whose top-1 class is not 0: the planted input with its values shifted.
  xai::v1::DecisionPathRequest unset;
  xai::v1::DecisionPathResponse top;
  for (int shift = 0; shift < 64 && (top.classes_size() == 0 || top.target_class() == 0); ++shift) {
    unset = PlantedPathRequest(0);
    unset.clear_target_class();
    std::string& data = *unset.mutable_image()->mutable_tensor()->mutable_data();
    std::rotate(data.begin(), data.begin() + 4 * shift, data.end());  // whole floats
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DecisionPath(&context, unset, &top).ok());
  }
  ASSERT_GE(top.classes_size(), 1);
  EXPECT_EQ(top.target_class(), top.classes(0).index());
  ASSERT_NE(top.target_class(), 0) << "no shift of the input has a top-1 class other than 0";
  xai::v1::DecisionPathRequest zero_request = unset;
  zero_request.set_target_class(0);
  xai::v1::DecisionPathResponse zero;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->DecisionPath(&context, zero_request, &zero).ok());
  EXPECT_EQ(zero.target_class(), 0);

  auto overlay = [&](std::optional<float> weight) {
    xai::v1::GradCAMRequest request;
    request.mutable_model()->set_name("tiny");
    request.mutable_image()->set_encoded(Png(24, 20));
    request.mutable_overlay()->set_enabled(true);
    if (weight) request.mutable_overlay()->set_image_weight(*weight);
    grpc::ClientContext context;
    xai::v1::GradCAMResponse response;
    const grpc::Status status = stub_->GradCAM(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.explanations_size() == 1 ? response.explanations(0).overlay_png() : "";
  };
  const std::string by_default = overlay(std::nullopt);
  ASSERT_FALSE(by_default.empty());
  EXPECT_EQ(by_default, overlay(0.5f));
  const std::string heatmap_alone = overlay(0.0f);
  EXPECT_NE(heatmap_alone, by_default);
}

TEST_F(EndToEndTest, DecisionPathReturnsThePlantedChainOverTheWire) {
  std::ifstream file(xai::testing::FixtureRepo() + "/planted/expected_chains.json");
  ASSERT_TRUE(file);
  const auto expected = nlohmann::json::parse(file).get<std::vector<std::vector<int>>>();
  grpc::ClientContext context;
  xai::v1::DecisionPathResponse response;
  const grpc::Status status = stub_->DecisionPath(&context, PlantedPathRequest(4), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model().name(), "planted");
  EXPECT_EQ(response.target_class(), 4);
  EXPECT_THAT(
      std::vector<std::string>(response.layers().begin(), response.layers().end()),
      ::testing::ElementsAre("stage1", "stage2", "stage3", "stage4"));  // the config's default
  ASSERT_GE(response.chains_size(), 1);
  EXPECT_EQ(
      std::vector<int>(response.chains(0).channels().begin(), response.chains(0).channels().end()),
      expected[4]);
  EXPECT_LE(response.chains(0).log_score(), 0.0f);
  EXPECT_GE(response.nodes_size(), 4);
  EXPECT_GE(response.edges_size(), 3);
  EXPECT_EQ(response.classes_size(), 5);
}

TEST_F(EndToEndTest, DecisionPathRendersItsDiagramAndReturnsMapsOnRequest) {
  xai::v1::DecisionPathRequest request = PlantedPathRequest(2);
  request.set_render(true);
  request.set_return_maps(true);
  grpc::ClientContext context;
  xai::v1::DecisionPathResponse response;
  ASSERT_TRUE(stub_->DecisionPath(&context, request, &response).ok());
  ASSERT_FALSE(response.diagram_png().empty());
  const std::vector<uchar> bytes(response.diagram_png().begin(), response.diagram_png().end());
  const cv::Mat diagram = cv::imdecode(bytes, cv::IMREAD_COLOR);
  ASSERT_FALSE(diagram.empty());
  EXPECT_GT(diagram.cols, diagram.rows);  // four columns of tiles, side by side
  // The best chain is drawn in red (BGR 40, 40, 220).
  cv::Mat red;
  cv::inRange(diagram, cv::Scalar(20, 20, 200), cv::Scalar(60, 60, 240), red);
  EXPECT_GT(cv::countNonZero(red), 200);
  for (const auto& node : response.nodes()) {
    ASSERT_EQ(node.map().shape_size(), 2);
    EXPECT_EQ(node.map().shape(0), 8);
    EXPECT_EQ(node.map().data().size(), 8u * 8u * sizeof(float));
  }
  // Without asking: neither.
  grpc::ClientContext plain_context;
  xai::v1::DecisionPathResponse plain;
  ASSERT_TRUE(stub_->DecisionPath(&plain_context, PlantedPathRequest(2), &plain).ok());
  EXPECT_TRUE(plain.diagram_png().empty());
  EXPECT_FALSE(plain.nodes(0).has_map());
}

TEST_F(EndToEndTest, DecisionPathBadFieldsAreInvalidArguments) {
  struct BadField {
    std::function<void(xai::v1::DecisionPathRequest*)> edit;
    grpc::StatusCode code;
    const char* message;
  };
  const std::vector<BadField> cases = {
      {[](auto* r) { r->set_target_class(6); }, grpc::StatusCode::INVALID_ARGUMENT,
       "target_class = 6"},
      {[](auto* r) { r->set_target_class(-2); }, grpc::StatusCode::INVALID_ARGUMENT,
       "target_class = -2"},
      {[](auto* r) { r->set_threshold(1.5f); }, grpc::StatusCode::INVALID_ARGUMENT,
       "threshold must be in (0, 1]"},
      {[](auto* r) { r->set_threshold(-0.1f); }, grpc::StatusCode::INVALID_ARGUMENT, "threshold"},
      {[](auto* r) { r->set_threshold(std::nanf("")); }, grpc::StatusCode::INVALID_ARGUMENT,
       "threshold"},
      {[](auto* r) { r->set_max_channels(-1); }, grpc::StatusCode::INVALID_ARGUMENT,
       "max_channels must be in [0, 64]"},
      {[](auto* r) { r->set_max_channels(65); }, grpc::StatusCode::INVALID_ARGUMENT,
       "max_channels"},
      {[](auto* r) { r->set_top_chains(-3); }, grpc::StatusCode::INVALID_ARGUMENT,
       "top_chains must be in [0, 64]"},
      {[](auto* r) {
         r->add_layers("stage2");
         r->add_layers("stage1");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layers[1] \"stage1\" runs before layers[0] \"stage2\""},
      {[](auto* r) {
         r->add_layers("stage2");
         r->add_layers("stage2");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layers[1] \"stage2\" is repeated"},
      {[](auto* r) { r->add_layers("stage9"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "layers[0] \"stage9\" is not a module"},
      {[](auto* r) { r->add_layers("fc"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "is not a CAM layer"},
  };
  for (const BadField& c : cases) {
    xai::v1::DecisionPathRequest request = PlantedPathRequest(0);
    c.edit(&request);
    grpc::ClientContext context;
    xai::v1::DecisionPathResponse response;
    const grpc::Status status = stub_->DecisionPath(&context, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.message << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST_F(EndToEndTest, ConcurrentCallsAllSucceed) {
  const std::string png = Png(40, 30);
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      xai::v1::ClassifyResponse response;
      return Classify(Request(i % 2 ? "tiny" : "resnet18_scripted", png), &response);
    }));
  }
  for (auto& call : calls) EXPECT_TRUE(call.get().ok());
}

TEST_F(EndToEndTest, HealthReportsOverallAndPerModel) {
  auto health = grpc::health::v1::Health::NewStub(*channel_);
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, request, &response);
    return std::pair{status.error_code(), response.status()};
  };
  using Response = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(check(""), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer"), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/resnet18"), std::pair(grpc::StatusCode::OK, Response::SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/bad_labels"),
            std::pair(grpc::StatusCode::OK, Response::NOT_SERVING));
  EXPECT_EQ(check("xai.v1.Explainer/unknown").first, grpc::StatusCode::NOT_FOUND);
}

// The metrics page now, parsed by Prometheus' own parser.
nlohmann::json Scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  const auto response = http.Get("/metrics");
  EXPECT_TRUE(response) << "no answer from /metrics";
  if (!response) return nlohmann::json();
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  return xai::testing::ParseMetricsPage(response->body);
}

// How much a sample grew between two scrapes (absent before: from 0).
double Grew(const nlohmann::json& before, const nlohmann::json& after, const std::string& name,
            const nlohmann::json& labels) {
  const double was = xai::testing::MetricValue(before, name, labels);
  return xai::testing::MetricValue(after, name, labels) - (std::isnan(was) ? 0 : was);
}

nlohmann::json CallLabels(const std::string& model, const std::string& version,
                          const std::string& rpc, const std::string& method,
                          const std::string& code) {
  return {{"model", model}, {"version", version}, {"rpc", rpc}, {"method", method}, {"code", code}};
}

TEST_F(EndToEndTest, MetricsCountEveryCallByModelVersionRpcMethodAndCode) {
  const int port = server_->metrics_port();
  ASSERT_NE(port, 0);
  const nlohmann::json before = Scrape(port);
  ASSERT_TRUE(before.is_object());

  const auto classify = Request("resnet18", Png(32, 32));
  size_t response_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    xai::v1::ClassifyResponse response;
    ASSERT_TRUE(Classify(classify, &response).ok());
    response_bytes += response.ByteSizeLong();
  }
  xai::v1::ClassifyResponse unused;
  EXPECT_EQ(Classify(Request("no_such_model", Png(8, 8)), &unused).error_code(),
            grpc::StatusCode::NOT_FOUND);
  xai::v1::GradCAMRequest gradcam;
  gradcam.mutable_model()->set_name("resnet18");
  gradcam.mutable_image()->set_encoded(Png(32, 32));
  gradcam.add_layers("layer3");
  gradcam.set_method(xai::v1::GRAD_CAM_PLUS_PLUS);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    xai::v1::GradCAMResponse response;
    ASSERT_TRUE(stub_->GradCAM(&context, gradcam, &response).ok());
  }
  gradcam.set_layers(0, "layer9");
  {
    grpc::ClientContext context;
    xai::v1::GradCAMResponse response;
    EXPECT_EQ(stub_->GradCAM(&context, gradcam, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    xai::v1::ListModelsResponse response;
    ASSERT_TRUE(stub_->ListModels(&context, xai::v1::ListModelsRequest(), &response).ok());
  }

  const nlohmann::json after = Scrape(port);
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["families"]["xai_requests"], "counter");
  EXPECT_EQ(after["families"]["xai_request_duration_seconds"], "histogram");
  EXPECT_EQ(after["families"]["xai_queue_depth"], "gauge");

  const auto ok = CallLabels("resnet18", "1", "Classify", "", "OK");
  EXPECT_EQ(Grew(before, after, "xai_requests_total", ok), 3);
  EXPECT_EQ(Grew(before, after, "xai_request_duration_seconds_count", ok), 3);
  EXPECT_GT(Grew(before, after, "xai_request_duration_seconds_sum", ok), 0);
  EXPECT_EQ(Grew(before, after, "xai_request_queue_seconds_count", ok), 3);
  EXPECT_EQ(Grew(before, after, "xai_request_compute_seconds_count", ok), 3);
  // One call at a time: each ran alone.
  EXPECT_EQ(Grew(before, after, "xai_request_batch_size_count", ok), 3);
  EXPECT_EQ(Grew(before, after, "xai_request_batch_size_sum", ok), 3);
  const nlohmann::json bytes = {{"model", "resnet18"}, {"version", "1"}, {"rpc", "Classify"}};
  EXPECT_EQ(Grew(before, after, "xai_request_bytes_total", bytes), 3.0 * classify.ByteSizeLong());
  EXPECT_EQ(Grew(before, after, "xai_response_bytes_total", bytes),
            static_cast<double>(response_bytes));
  // An unknown model's name is not a label: no series per name a caller may send.
  const auto not_found = CallLabels("", "", "Classify", "", "NOT_FOUND");
  EXPECT_EQ(Grew(before, after, "xai_requests_total", not_found), 1);
  EXPECT_EQ(Grew(before, after, "xai_request_queue_seconds_count", not_found), 0);
  EXPECT_EQ(Grew(before, after, "xai_requests_total",
                 CallLabels("resnet18", "1", "GradCAM", "GRAD_CAM_PLUS_PLUS", "OK")),
            2);
  // Refused before it was queued: its model and version are known, its method is not.
  const auto invalid = CallLabels("resnet18", "1", "GradCAM", "", "INVALID_ARGUMENT");
  EXPECT_EQ(Grew(before, after, "xai_requests_total", invalid), 1);
  EXPECT_EQ(Grew(before, after, "xai_request_batch_size_count", invalid), 0);
  EXPECT_EQ(Grew(before, after, "xai_requests_total", CallLabels("", "", "ListModels", "", "OK")),
            1);

  const nlohmann::json resnet = {{"model", "resnet18"}, {"version", "1"}};
  EXPECT_EQ(xai::testing::MetricValue(after, "xai_queue_depth", resnet), 0);
  EXPECT_EQ(xai::testing::MetricValue(after, "xai_instances", resnet), 1);
  EXPECT_EQ(xai::testing::MetricValue(after, "xai_instances_busy", resnet), 0);
  EXPECT_EQ(
      xai::testing::MetricValue(after, "xai_model_state",
                                {{"model", "resnet18"}, {"version", "1"}, {"state", "READY"}}),
      1);
  EXPECT_EQ(
      xai::testing::MetricValue(after, "xai_model_state",
                                {{"model", "resnet18"}, {"version", "1"}, {"state", "FAILED"}}),
      0);
  EXPECT_EQ(
      xai::testing::MetricValue(after, "xai_model_state",
                                {{"model", "bad_config"}, {"version", "1"}, {"state", "FAILED"}}),
      1);
  // A failed version has no queue or instances to report.
  EXPECT_TRUE(std::isnan(xai::testing::MetricValue(after, "xai_instances",
                                                   {{"model", "bad_config"}, {"version", "1"}})));

  EXPECT_GT(xai::testing::MetricValue(after, "process_resident_memory_bytes", {}), 50e6);
  EXPECT_GT(xai::testing::MetricValue(after, "process_cpu_seconds_total", {}), 0);
  EXPECT_GT(xai::testing::MetricValue(after, "process_open_fds", {}), 3);
  const double started = xai::testing::MetricValue(after, "process_start_time_seconds", {});
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(started, now - 3600);
  EXPECT_LE(started, now + 1);
  bool build_info = false;
  for (const auto& sample : after["samples"]) {
    if (sample[0] != "xai_build_info") continue;
    build_info = true;
    EXPECT_EQ(sample[2], 1);
    EXPECT_FALSE(sample[1]["version"].get<std::string>().empty());
    EXPECT_THAT(sample[1]["libtorch"].get<std::string>(), ::testing::MatchesRegex("[0-9]+\\..*"));
    EXPECT_THAT(sample[1]["devices"].get<std::string>(), ::testing::StartsWith("cpu"));
  }
  EXPECT_TRUE(build_info);
}

TEST_F(EndToEndTest, MetricsStayExactUnderConcurrentCallsAndScrapes) {
  const int port = server_->metrics_port();
  const nlohmann::json before = Scrape(port);
  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    httplib::Client http("127.0.0.1", port);
    while (!done) {
      const auto response = http.Get("/metrics");
      if (response && response->status == 200) ++scrapes;
    }
  });
  std::vector<std::future<int>> callers;
  for (int t = 0; t < 4; ++t) {
    callers.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < 10; ++i) {
        xai::v1::ClassifyResponse response;
        ok += Classify(Request("tiny", Png(16, 16)), &response).ok();
      }
      return ok;
    }));
  }
  int ok = 0;
  for (auto& caller : callers) ok += caller.get();
  done = true;
  scraper.join();
  EXPECT_EQ(ok, 40);
  EXPECT_GT(scrapes.load(), 0);
  const nlohmann::json after = Scrape(port);
  const auto labels = CallLabels("tiny", "1", "Classify", "", "OK");
  EXPECT_EQ(Grew(before, after, "xai_requests_total", labels), 40);
  EXPECT_EQ(Grew(before, after, "xai_request_duration_seconds_count", labels), 40);
  EXPECT_EQ(Grew(before, after, "xai_request_duration_seconds_bucket",
                 {{"model", "tiny"},
                  {"version", "1"},
                  {"rpc", "Classify"},
                  {"method", ""},
                  {"code", "OK"},
                  {"le", "+Inf"}}),
            40);
  // tiny does not batch: every call ran alone.
  EXPECT_EQ(Grew(before, after, "xai_request_batch_size_sum", labels), 40);
}

TEST_F(EndToEndTest, MetricsEndpointAnswersOtherPathsWith404AndOtherMethodsWith405) {
  httplib::Client http("127.0.0.1", server_->metrics_port());
  const auto missing = http.Get("/metrics/x");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("metrics are at /metrics"));
  const auto posted = http.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 405);
  EXPECT_EQ(posted->get_header_value("Allow"), "GET, HEAD");
  const auto deleted = http.Delete("/metrics");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 405);
  const auto head = http.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

TEST(ServerMetricsAddressTest, AnAddressInUseOrMalformedStopsTheStartWithTheReason) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.explainer.model_repository = xai::testing::FixtureRepo();
  options.metrics_address = "127.0.0.1:0";
  options.http_address = "";
  auto first = Server::Start(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  options.metrics_address = "127.0.0.1:" + std::to_string((*first)->metrics_port());
  auto second = Server::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr("cannot listen for metrics on " + options.metrics_address));
  for (const char* bad : {"8002", "localhost:", "[::1:80", "host:99999", "host:8o"}) {
    options.metrics_address = bad;
    auto started = Server::Start(options);
    ASSERT_FALSE(started.ok()) << bad;
    EXPECT_EQ(started.status().code(), core::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(started.status().message(), HasSubstr("is not host:port")) << bad;
  }
}

// A 100 KB model name or a 10 KB layer name once came back whole in the status message:
// a trailer too large for the client, which failed every call on the connection with it.
TEST_F(EndToEndTest, AHugeFieldGetsAShortMessageAndFailsNoOtherCall) {
  const std::string tensor(3 * 224 * 224 * 4, '\0');
  std::vector<std::future<grpc::Status>> paths;
  for (int i = 0; i < 6; ++i) {
    paths.push_back(std::async(std::launch::async, [&] {
      xai::v1::DecisionPathRequest request;
      request.mutable_model()->set_name("resnet18");
      auto* t = request.mutable_image()->mutable_tensor();
      t->add_shape(3), t->add_shape(224), t->add_shape(224);
      t->set_data(tensor);
      request.set_target_class(-1);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      xai::v1::DecisionPathResponse response;
      return stub_->DecisionPath(&context, request, &response);
    }));
  }
  // While they queue on the same channel:
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->explainer().queued() < 3 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  xai::v1::ClassifyResponse unused;
  const grpc::Status long_name =
      Classify(Request(std::string(100 * 1024, 'm'), Png(8, 8)), &unused);
  EXPECT_EQ(long_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(long_name.error_message(), HasSubstr("mmm...\" (102400 bytes) is not a valid"));
  EXPECT_LT(long_name.error_message().size(), 300u);
  grpc::ClientContext context;
  xai::v1::GradCAMRequest gradcam;
  gradcam.mutable_model()->set_name("resnet18");
  gradcam.mutable_image()->set_encoded(Png(32, 32));
  gradcam.add_layers(std::string(10 * 1024, 'l'));
  xai::v1::GradCAMResponse gradcam_response;
  const grpc::Status long_layer = stub_->GradCAM(&context, gradcam, &gradcam_response);
  EXPECT_EQ(long_layer.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(long_layer.error_message(), HasSubstr("layers[0] \"lll"));
  EXPECT_THAT(long_layer.error_message(), HasSubstr("(10240 bytes)"));
  EXPECT_LT(long_layer.error_message().size(), 300u);
  for (auto& path : paths) {
    const grpc::Status status = path.get();
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  }
}

// Sends `bytes` as the request of `method` through a generic stub: what a client with a
// broken serializer, or none, sends. Returns the status and the answer's bytes.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, std::string* answer) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::CompletionQueue queue;
  auto call = stub.PrepareUnaryCall(&context, method, request, &queue);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(queue.Next(&tag, &ok));
  std::vector<grpc::Slice> slices;
  if (status.ok()) {
    EXPECT_TRUE(response.Dump(&slices).ok());
  }
  answer->clear();
  for (const grpc::Slice& s : slices)
    answer->append(reinterpret_cast<const char*>(s.begin()), s.size());
  queue.Shutdown();
  return status;
}

// gRPC's own parsing answers a request it cannot parse with UNIMPLEMENTED and no message,
// before any handler, log line or metric sees it; the server parses requests itself.
TEST_F(EndToEndTest, BytesThatAreNotAValidRequestAreInvalidArgumentsWithAReason) {
  const std::string good = Request("tiny", Png(8, 8)).SerializeAsString();
  std::string answer;
  // The generic path answers a good request like the stub does.
  ASSERT_TRUE(CallRaw(*channel_, "/xai.v1.Explainer/Classify", good, &answer).ok());
  xai::v1::ClassifyResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(answer));
  EXPECT_EQ(parsed.model().name(), "tiny");
  EXPECT_FALSE(parsed.classes().empty());

  std::string not_utf8 = Request("tinyX", Png(8, 8)).SerializeAsString();
  not_utf8.replace(not_utf8.find("tinyX"), 5, "tiny\xff");
  grpc::Status status = CallRaw(*channel_, "/xai.v1.Explainer/Classify", not_utf8, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("are not a valid xai.v1.ClassifyRequest message"));
  EXPECT_THAT(status.error_message(), HasSubstr("not UTF-8"));

  status = CallRaw(*channel_, "/xai.v1.Explainer/GradCAM", good.substr(0, good.size() / 2),
                   &answer);  // cut inside the image bytes
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("xai.v1.GradCAMRequest"));

  // No bytes at all are a valid message: every field at its default.
  status = CallRaw(*channel_, "/xai.v1.Explainer/ListModels", "", &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  xai::v1::ListModelsResponse models;
  ASSERT_TRUE(models.ParseFromString(answer));
  EXPECT_FALSE(models.models().empty());
  // And the server still answers.
  xai::v1::ClassifyResponse response;
  EXPECT_TRUE(Classify(Request("tiny", Png(8, 8)), &response).ok());
}

TEST(LoggingTest, JsonEscapeKeepsUtf8AndEscapesTheRest) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\te\x01"), "a\\\"b\\\\c\\nd\\te\\u0001");
  EXPECT_EQ(JsonEscape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // kept
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
  EXPECT_EQ(JsonEscape("a\x80"
                       "b"),
            "a\\ufffd"
            "b");
  EXPECT_EQ(JsonEscape("\xe2\x82"), "\\ufffd\\ufffd");
  EXPECT_EQ(JsonEscape("\xc0\xaf"), "\\ufffd\\ufffd");
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");
  const nlohmann::json parsed = nlohmann::json::parse("\"" + JsonEscape("x\xff\"\n") + "\"");
  EXPECT_EQ(parsed.get<std::string>(), "x\xef\xbf\xbd\"\n");
}

TEST(ServerShutdownTest, FinishesCallsInFlight) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "";
  options.http_address = "";
  options.explainer.model_repository = xai::testing::FixtureRepo();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->explainer().WaitUntilLoaded();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  const std::string tensor(3 * 224 * 224 * 4, '\0');
  std::vector<std::future<grpc::Status>> calls;
  std::atomic<int> sent{0};
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      xai::v1::ClassifyRequest request;
      request.mutable_model()->set_name("resnet18");
      auto* t = request.mutable_image()->mutable_tensor();
      t->add_shape(3), t->add_shape(224), t->add_shape(224);
      t->set_data(tensor);
      grpc::ClientContext context;
      xai::v1::ClassifyResponse response;
      ++sent;
      return xai::v1::Explainer::NewStub(channel)->Classify(&context, request, &response);
    }));
  }
  while (sent.load() < 6) std::this_thread::yield();
  // Let every call reach the server: one worker runs one, the other five wait in its queue
  // (all six may be queued for a moment, before the worker takes the first).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*server)->explainer().queued() != 5 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ((*server)->explainer().queued(), 5);
  (*server)->Shutdown(std::chrono::seconds(60));
  for (auto& call : calls) {
    const grpc::Status status = call.get();
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  }
  // New calls are refused once stopped.
  xai::v1::ListModelsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(xai::v1::Explainer::NewStub(channel)->ListModels(&context, {}, &response).ok());
}

}  // namespace
}  // namespace xai::server
