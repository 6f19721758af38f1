// Every status code of docs/API.md's table that a call can meet, and the server serving on:
// bad inputs, deadlines, a call cancelled while queued, huge fields, bytes that are not a
// request.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

class StatusCodesTest : public ServerFixture {};

struct CodeCase {
  std::string name;
  std::function<void(xai::v1::ClassifyRequest*)> edit;
  grpc::StatusCode code;
  std::string message;
};

TEST_F(StatusCodesTest, EveryBadInputGetsItsCodeAndTheServerKeepsServing) {
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

TEST_F(StatusCodesTest, PassedDeadlineIsDeadlineExceeded) {
  xai::v1::ClassifyResponse response;
  const grpc::Status status =
      Classify(Request("resnet18", SampleImage()), &response, std::chrono::milliseconds(1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(StatusCodesTest, ACallCancelledWhileQueuedIsDroppedWithoutRunning) {
  // resnet18 has one instance and no batcher: of two calls, one runs and the other waits.
  // Which one arrived first is up to the transport, so the caller cancels both: the one
  // running finishes anyway, the one queued must be dropped without running.
  const auto request = Request("resnet18", SampleImage());
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

// A 100 KB model name or a 10 KB layer name once came back whole in the status message:
// a trailer too large for the client, which failed every call on the connection with it.
TEST_F(StatusCodesTest, AHugeFieldGetsAShortMessageAndFailsNoOtherCall) {
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
TEST_F(StatusCodesTest, BytesThatAreNotAValidRequestAreInvalidArgumentsWithAReason) {
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

}  // namespace
}  // namespace xai::server
