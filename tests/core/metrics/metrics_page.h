// A /metrics page as Prometheus' own parser reads it (tools/parse_metrics.py, Debian's
// python3-prometheus-client), for tests that check exact values.
#ifndef XAI_TESTS_CORE_METRICS_METRICS_PAGE_H_
#define XAI_TESTS_CORE_METRICS_METRICS_PAGE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace xai::testing {

// {"families": {name: type}, "samples": [[name, {labels}, value], ...]}; a failed parse
// fails the test and returns a non-object.
inline nlohmann::json ParseMetricsPage(const std::string& page) {
  static std::atomic<int> counter{0};
  const std::string stem = ::testing::TempDir() + "/metrics_page_" + std::to_string(getpid()) +
                           "_" + std::to_string(counter++);
  std::ofstream(stem + ".txt") << page;
  const std::string command = "/usr/bin/python3 " + std::string(XAI_SOURCE_DIR) +
                              "/tools/parse_metrics.py " + stem + ".txt > " + stem + ".json";
  EXPECT_EQ(std::system(command.c_str()), 0) << page;
  std::ifstream file(stem + ".json");
  return nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
}

// The value of the sample `name` with exactly `labels` (`{}`: none); NaN when absent.
inline double MetricValue(const nlohmann::json& parsed, const std::string& name,
                          const nlohmann::json& labels) {
  const nlohmann::json& want = labels.is_null() ? nlohmann::json::object() : labels;
  for (const auto& sample : parsed["samples"]) {
    if (sample[0] == name && sample[1] == want) {
      if (sample[2].is_string()) {
        if (sample[2] == "+Inf") return INFINITY;
        if (sample[2] == "-Inf") return -INFINITY;
        return NAN;
      }
      return sample[2].get<double>();
    }
  }
  return NAN;
}

}  // namespace xai::testing

#endif  // XAI_TESTS_CORE_METRICS_METRICS_PAGE_H_
