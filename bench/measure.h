// What the benchmarks share to time things and read their lists: no LibTorch, no gRPC.
#ifndef XAI_BENCH_MEASURE_H_
#define XAI_BENCH_MEASURE_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace xai::bench {

using Clock = std::chrono::steady_clock;

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
};

// Nearest-rank percentiles of `ms`; all zero when empty.
inline Stats Summarise(std::vector<double> ms) {
  if (ms.empty()) return {};
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return {ms[ms.size() / 2], at(0.9), at(0.99)};
}

// The median of `times` timed calls of `run`, after one untimed call (warm-up).
inline double P50Ms(int times, const std::function<void()>& run) {
  run();
  std::vector<double> ms;
  for (int r = 0; r < times; ++r) {
    const auto start = Clock::now();
    run();
    ms.push_back(Ms(Clock::now() - start));
  }
  return Summarise(std::move(ms)).p50_ms;
}

// "1,2,4" as numbers in [low, high]; empty when the list is empty or any item is not such a
// number (the caller says what it expected).
inline std::vector<int> ParseList(const std::string& text, int low, int high) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      return {};
    }
    if (used != item.size() || value < low || value > high) return {};
    out.push_back(value);
  }
  return out;
}

}  // namespace xai::bench

#endif  // XAI_BENCH_MEASURE_H_
