// Prometheus metrics: counters, gauges and histograms in labelled families, and their
// text exposition (format 0.0.4, what Prometheus scrapes at /metrics). No Prometheus C++
// library is packaged by Debian; this is the small part of one the server needs.
//
// Hot path: a series is found once (Family::With, a shared lock on a map) and then
// updated with atomics only; callers that update one series often keep the reference.
// A scrape (Registry::Expose) takes the same shared locks and reads the atomics, so it
// never waits for a request nor makes one wait, except while a new series is created.
//
// Thread safe. The C++ standard library only.
#ifndef XAI_CORE_METRICS_METRICS_H_
#define XAI_CORE_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace xai::metrics {

class Counter {
 public:
  void Increment(double by = 1);  // by >= 0
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with fixed upper bounds, as Prometheus histograms are.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;                 // ascending, finite; owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, then +Inf; not cumulative
  std::atomic<double> sum_{0};
};

// Bucket bounds: `count` bounds from `start`, each `factor` times the one before.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Bounds for durations in seconds: 100 us to about 100 s.
const std::vector<double>& LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// Writes `value` as Prometheus' text format does: integers without a fraction, others in
// the shortest form that reads back the same, NaN, +Inf and -Inf by name.
std::string FormatValue(double value);

// A metric name and its series, one per combination of label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The series of these label values (as many as the family has label names), made on
  // first use. The reference stays valid as long as the family.
  Metric& With(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // Calls visit(label values, series) for every series, in label-value order.
  void ForEach(
      const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const;

 private:
  Metric* Make();
  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;  // guarded by mu_
};

// Writes one family's samples as the text format wants them: for collectors, which read
// values at scrape time (process statistics, queue depths) instead of keeping series.
class SampleWriter {
 public:
  // `# HELP` and `# TYPE` lines; then Sample lines of this family.
  void Describe(const std::string& name, const std::string& help, Type type);
  void Sample(const std::string& name, const std::vector<std::string>& label_names,
              const std::vector<std::string>& label_values, double value);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Registry {
 public:
  // Families are made once, at start; names follow Prometheus' conventions (counters end
  // in _total, base units: _seconds, _bytes). The references stay valid as long as the
  // registry.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          const std::vector<std::string>& label_names);
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names,
                                  const std::vector<double>& bounds);
  // Called at every scrape, after the families, in the order added.
  void AddCollector(std::function<void(SampleWriter&)> collect);

  // The page: every family with its HELP and TYPE lines, then the collectors' output.
  std::string Expose() const;

 private:
  using Writer = std::function<void(SampleWriter&)>;
  // Adds `family`'s writer, which owns it, and returns it.
  template <typename Metric>
  Family<Metric>& Add(std::shared_ptr<Family<Metric>> family);

  mutable std::mutex mu_;         // guards the lists, not the series
  std::vector<Writer> families_;  // one per family, in the order added; each owns its family
  std::vector<Writer> collectors_;
};

// `"` + value with backslash, double quote and newline escaped + `"`.
std::string QuoteLabelValue(const std::string& value);

}  // namespace xai::metrics

#endif  // XAI_CORE_METRICS_METRICS_H_
