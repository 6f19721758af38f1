// The metrics registry and its exposition, read back by Prometheus' own parser.
#include "core/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/core/metrics/metrics_page.h"

namespace xai::metrics {
namespace {

using ::testing::HasSubstr;

using xai::testing::MetricValue;
using xai::testing::ParseMetricsPage;

TEST(MetricsTest, CountersGaugesAndHistogramsReadBackExactlyThroughPrometheusParser) {
  Registry registry;
  auto& requests = registry.AddCounter("xai_requests_total", "Requests answered, by code.",
                                       {"model", "rpc", "code"});
  auto& depth = registry.AddGauge("xai_queue_depth", "Requests waiting.", {"model"});
  auto& latency = registry.AddHistogram("xai_request_duration_seconds", "From arrival to answer.",
                                        {"model"}, {0.01, 0.1, 1});
  requests.With({"resnet18", "Classify", "OK"}).Increment();
  requests.With({"resnet18", "Classify", "OK"}).Increment(2);
  requests.With({"resnet18", "GradCAM", "INVALID_ARGUMENT"}).Increment();
  depth.With({"resnet18"}).Set(3);
  for (double v : {0.005, 0.01, 0.05, 2.0}) latency.With({"resnet18"}).Observe(v);

  const nlohmann::json parsed = ParseMetricsPage(registry.Expose());
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed["families"]["xai_requests"], "counter");
  EXPECT_EQ(parsed["families"]["xai_queue_depth"], "gauge");
  EXPECT_EQ(parsed["families"]["xai_request_duration_seconds"], "histogram");
  EXPECT_EQ(MetricValue(parsed, "xai_requests_total",
                        {{"model", "resnet18"}, {"rpc", "Classify"}, {"code", "OK"}}),
            3);
  EXPECT_EQ(MetricValue(parsed, "xai_requests_total",
                        {{"model", "resnet18"}, {"rpc", "GradCAM"}, {"code", "INVALID_ARGUMENT"}}),
            1);
  EXPECT_EQ(MetricValue(parsed, "xai_queue_depth", {{"model", "resnet18"}}), 3);
  // Buckets are cumulative and "le" is inclusive: 0.01 falls in le="0.01".
  const auto bucket = [&](const char* le) {
    return MetricValue(parsed, "xai_request_duration_seconds_bucket",
                       {{"model", "resnet18"}, {"le", le}});
  };
  EXPECT_EQ(bucket("0.01"), 2);
  EXPECT_EQ(bucket("0.1"), 3);
  EXPECT_EQ(bucket("1"), 3);  // the label as written; Prometheus reads it as a float
  EXPECT_EQ(bucket("+Inf"), 4);
  EXPECT_EQ(MetricValue(parsed, "xai_request_duration_seconds_count", {{"model", "resnet18"}}), 4);
  EXPECT_DOUBLE_EQ(MetricValue(parsed, "xai_request_duration_seconds_sum", {{"model", "resnet18"}}),
                   2.065);
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  auto& family =
      registry.AddCounter("odd_total", "Help with a \\ backslash\nand a newline.", {"name"});
  const std::string odd = "quote \" backslash \\ newline \n end";
  family.With({odd}).Increment(5);
  const std::string page = registry.Expose();
  EXPECT_THAT(page, HasSubstr(R"(odd_total{name="quote \" backslash \\ newline \n end"} 5)"));
  EXPECT_EQ(MetricValue(ParseMetricsPage(page), "odd_total", {{"name", odd}}), 5);
}

TEST(MetricsTest, CollectorsWriteAtScrapeTimeAfterTheFamilies) {
  Registry registry;
  registry.AddGauge("first", "Made first.", {}).With({}).Set(1);
  double resident = 1024;
  registry.AddCollector([&](SampleWriter& writer) {
    writer.Describe("process_resident_memory_bytes", "Resident memory.", Type::kGauge);
    writer.Sample("process_resident_memory_bytes", {}, {}, resident);
  });
  resident = 4096;  // read when scraped, not when added
  const nlohmann::json parsed = ParseMetricsPage(registry.Expose());
  EXPECT_EQ(MetricValue(parsed, "first", nlohmann::json::object()), 1);
  EXPECT_EQ(MetricValue(parsed, "process_resident_memory_bytes", nlohmann::json::object()), 4096);
}

TEST(MetricsTest, ValuesAreWrittenSoTheyReadBackTheSame) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  const double third = 1.0 / 3;
  EXPECT_EQ(std::strtod(FormatValue(third).c_str(), nullptr), third);
}

TEST(MetricsTest, MisuseIsRefused) {
  Registry registry;
  auto& family = registry.AddCounter("x_total", "X.", {"a", "b"});
  EXPECT_THROW(family.With({"only one"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "H.", {}, {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "H.", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "H.", {}, {INFINITY}), std::invalid_argument);
}

TEST(MetricsTest, ConcurrentUpdatesAndScrapesLoseNothing) {
  Registry registry;
  auto& counter = registry.AddCounter("c_total", "C.", {"worker"});
  auto& histogram = registry.AddHistogram("h_seconds", "H.", {}, LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        counter.With({std::to_string(t % 2)}).Increment();
        histogram.With({}).Observe(0.001);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i)
      EXPECT_THAT(registry.Expose(), HasSubstr("# TYPE c_total counter"));
  });
  for (auto& thread : threads) thread.join();
  scraper.join();
  const nlohmann::json parsed = ParseMetricsPage(registry.Expose());
  EXPECT_EQ(MetricValue(parsed, "c_total", {{"worker", "0"}}), 20000);
  EXPECT_EQ(MetricValue(parsed, "c_total", {{"worker", "1"}}), 20000);
  EXPECT_EQ(MetricValue(parsed, "h_seconds_count", nlohmann::json::object()), 40000);
  EXPECT_EQ(MetricValue(parsed, "h_seconds_bucket", {{"le", "0.001"}}), 40000);
  EXPECT_EQ(MetricValue(parsed, "h_seconds_bucket", {{"le", "0.0005"}}), 0);
}

}  // namespace
}  // namespace xai::metrics
