// /metrics of a real server: every call counted by model, version, RPC, method and code,
// exact under concurrent calls and scrapes; other paths and methods; a bad metrics address.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/metrics/metrics_page.h"
#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

using ::testing::HasSubstr;

class MetricsEndpointTest : public ServerFixture {};

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

TEST_F(MetricsEndpointTest, MetricsCountEveryCallByModelVersionRpcMethodAndCode) {
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
    EXPECT_FALSE(sample[1]["blas"].get<std::string>().empty());
  }
  EXPECT_TRUE(build_info);
}

TEST_F(MetricsEndpointTest, MetricsStayExactUnderConcurrentCallsAndScrapes) {
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

TEST_F(MetricsEndpointTest, MetricsEndpointAnswersOtherPathsWith404AndOtherMethodsWith405) {
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

}  // namespace
}  // namespace xai::server
