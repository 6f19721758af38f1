#include "core/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace xai::metrics {
namespace {

// atomic<double>::fetch_add arrives with C++20.
void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

// HELP text: backslash and newline escaped.
std::string EscapeHelp(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  if (names.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    out += names[i] + "=" + QuoteLabelValue(values[i]);
  }
  return out + "}";
}

}  // namespace

void Counter::Increment(double by) {
  if (by > 0) AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  // The first bound >= value ("le"), or +Inf.
  const size_t bucket =
      std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

const std::vector<double>& LatencyBuckets() {
  // 100 us, 250 us, 500 us, 1 ms, ... 100 s: three per decade.
  static const std::vector<double> kBounds = [] {
    std::vector<double> bounds;
    for (double decade = 1e-4; decade < 200; decade *= 10) {
      for (double step : {1.0, 2.5, 5.0}) {
        if (decade * step <= 100) bounds.push_back(decade * step);
      }
    }
    return bounds;
  }();
  return kBounds;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  char buffer[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string QuoteLabelValue(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <typename Metric>
Metric* Family<Metric>::Make() {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return new Histogram(&bounds_);
  } else {
    return new Metric();
  }
}

template <typename Metric>
Metric& Family<Metric>::With(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  {
    std::shared_lock<std::shared_mutex> read(mu_);
    auto it = series_.find(label_values);
    if (it != series_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> write(mu_);
  auto& slot = series_[label_values];
  if (!slot) slot.reset(Make());
  return *slot;
}

template <typename Metric>
void Family<Metric>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const {
  std::shared_lock<std::shared_mutex> read(mu_);
  for (const auto& [values, metric] : series_) visit(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void SampleWriter::Describe(const std::string& name, const std::string& help, Type type) {
  out_ += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out_ += "# TYPE " + name + " " + TypeName(type) + "\n";
}

void SampleWriter::Sample(const std::string& name, const std::vector<std::string>& label_names,
                          const std::vector<std::string>& label_values, double value) {
  out_ += name + Labels(label_names, label_values) + " " + FormatValue(value) + "\n";
}

namespace {

// A counter's or a gauge's series, one sample each.
template <typename Metric>
void WriteScalars(const Family<Metric>& family, SampleWriter& writer) {
  family.ForEach([&](const std::vector<std::string>& values, const Metric& metric) {
    writer.Sample(family.name(), family.label_names(), values, metric.Value());
  });
}

// A histogram's series: cumulative buckets by "le", then _sum and _count.
void WriteHistograms(const Family<Histogram>& family, SampleWriter& writer) {
  std::vector<std::string> names = family.label_names();
  names.push_back("le");
  family.ForEach([&](const std::vector<std::string>& values, const Histogram& histogram) {
    const Histogram::Snapshot snapshot = histogram.Read();
    std::vector<std::string> with_le = values;
    with_le.push_back("");
    for (size_t b = 0; b <= family.bounds().size(); ++b) {
      with_le.back() =
          b < family.bounds().size() ? FormatValue(family.bounds()[b]) : std::string("+Inf");
      writer.Sample(family.name() + "_bucket", names, with_le,
                    static_cast<double>(snapshot.cumulative[b]));
    }
    writer.Sample(family.name() + "_sum", family.label_names(), values, snapshot.sum);
    writer.Sample(family.name() + "_count", family.label_names(), values,
                  static_cast<double>(snapshot.count));
  });
}

}  // namespace

template <typename Metric>
Family<Metric>& Registry::Add(std::shared_ptr<Family<Metric>> family) {
  Family<Metric>& added = *family;
  std::lock_guard<std::mutex> lock(mu_);
  families_.push_back([family](SampleWriter& writer) {
    writer.Describe(family->name(), family->help(), family->type());
    if constexpr (std::is_same_v<Metric, Histogram>) {
      WriteHistograms(*family, writer);
    } else {
      WriteScalars(*family, writer);
    }
  });
  return added;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      const std::vector<std::string>& label_names) {
  return Add(std::make_shared<Family<Counter>>(name, help, Type::kCounter, label_names));
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names) {
  return Add(std::make_shared<Family<Gauge>>(name, help, Type::kGauge, label_names));
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          const std::vector<std::string>& label_names,
                                          const std::vector<double>& bounds) {
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      std::any_of(bounds.begin(), bounds.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("histogram " + name + ": bounds must be finite and ascending");
  }
  return Add(
      std::make_shared<Family<Histogram>>(name, help, Type::kHistogram, label_names, bounds));
}

void Registry::AddCollector(std::function<void(SampleWriter&)> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Expose() const {
  std::vector<Writer> writers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writers = families_;
    writers.insert(writers.end(), collectors_.begin(), collectors_.end());
  }
  SampleWriter writer;
  for (const Writer& write : writers) write(writer);
  return writer.Take();
}

}  // namespace xai::metrics
