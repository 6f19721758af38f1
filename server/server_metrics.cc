#include "server/server_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/base/strings.h"
#include "core/explainer.h"
#include "core/runtime/runtime_info.h"
#include "server/explanation_cache.h"

namespace xai::server {
namespace {

using metrics::SampleWriter;
using metrics::Type;

const std::vector<std::string> kCallLabels = {"model", "version", "rpc", "method", "code"};
const std::vector<std::string> kVersionLabels = {"model", "version"};

// The process' own statistics, read from /proc at scrape time, under the names every
// Prometheus client library uses.
struct ProcessStats {
  bool ok = false;
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  std::ifstream stat_file("/proc/self/stat");
  std::string line;
  if (!std::getline(stat_file, line)) return stats;
  // The command name (field 2) may hold spaces and parentheses: fields 3 on follow the
  // last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return stats;
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> tokens;  // tokens[i] is field i + 3
  for (std::string token; fields >> token;) tokens.push_back(token);
  if (tokens.size() < 22) return stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  stats.cpu_seconds = (std::stod(tokens[11]) + std::stod(tokens[12])) / ticks;  // utime, stime
  stats.virtual_bytes = std::stod(tokens[20]);                                  // vsize
  stats.resident_bytes = std::stod(tokens[21]) * page;                          // rss, pages
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string key; proc_stat >> key;) {
    if (key == "btime") {
      proc_stat >> boot_time;
      break;
    }
    std::getline(proc_stat, line);
  }
  stats.start_time_seconds = boot_time + std::stod(tokens[19]) / ticks;  // starttime, ticks
  stats.ok = true;
  return stats;
}

int OpenFileDescriptors() {
  std::error_code error;
  int count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return error ? -1 : count - 1;  // less the iterator's own descriptor
}

void CollectProcess(SampleWriter& out) {
  const ProcessStats stats = ReadProcessStats();
  if (stats.ok) {
    out.Describe("process_cpu_seconds_total", "User and system CPU time of the process, seconds",
                 Type::kCounter);
    out.Sample("process_cpu_seconds_total", {}, {}, stats.cpu_seconds);
    out.Describe("process_resident_memory_bytes", "Resident memory of the process, bytes",
                 Type::kGauge);
    out.Sample("process_resident_memory_bytes", {}, {}, stats.resident_bytes);
    out.Describe("process_virtual_memory_bytes", "Virtual memory of the process, bytes",
                 Type::kGauge);
    out.Sample("process_virtual_memory_bytes", {}, {}, stats.virtual_bytes);
    out.Describe("process_start_time_seconds",
                 "When the process started, seconds since the Unix epoch", Type::kGauge);
    out.Sample("process_start_time_seconds", {}, {}, stats.start_time_seconds);
  }
  if (const int fds = OpenFileDescriptors(); fds >= 0) {
    out.Describe("process_open_fds", "Open file descriptors of the process", Type::kGauge);
    out.Sample("process_open_fds", {}, {}, fds);
  }
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    out.Describe("process_max_fds", "The process' limit on open file descriptors", Type::kGauge);
    out.Sample("process_max_fds", {}, {}, static_cast<double>(limit.rlim_cur));
  }
}

// Every model version the repository knows, at this moment; atomics and the
// repository's list, never a queue's or a pool's lock.
void CollectVersions(const core::Explainer& explainer, SampleWriter& out) {
  const std::vector<core::ModelVersionStatus> versions = explainer.ListModels();
  out.Describe("xai_model_state",
               "1 for the state each model version is in (LOADING, READY, FAILED, UNLOADED), 0 "
               "for the others",
               Type::kGauge);
  static const core::ModelState kStates[] = {core::ModelState::kLoading, core::ModelState::kReady,
                                             core::ModelState::kFailed,
                                             core::ModelState::kUnloaded};
  for (const auto& v : versions) {
    for (core::ModelState state : kStates) {
      out.Sample("xai_model_state", {"model", "version", "state"},
                 {v.name, std::to_string(v.version), core::ModelStateName(state)},
                 v.state == state ? 1 : 0);
    }
  }
  struct Gauge {
    const char* name;
    const char* help;
    int core::ModelVersionStatus::*field;
  };
  static const Gauge kGauges[] = {
      {"xai_queue_depth", "Requests waiting for an instance, per READY model version",
       &core::ModelVersionStatus::queued},
      {"xai_instances", "Model instances, per READY model version",
       &core::ModelVersionStatus::instances},
      {"xai_instances_busy", "Model instances running a batch now, per READY model version",
       &core::ModelVersionStatus::busy_instances},
  };
  for (const Gauge& gauge : kGauges) {
    out.Describe(gauge.name, gauge.help, Type::kGauge);
    for (const auto& v : versions) {
      if (v.state != core::ModelState::kReady) continue;
      out.Sample(gauge.name, kVersionLabels, {v.name, std::to_string(v.version)}, v.*gauge.field);
    }
  }
}

void CollectDeviceMemory(SampleWriter& out) {
  const std::vector<core::DeviceMemory> devices = core::CudaMemory();
  if (devices.empty()) return;
  out.Describe("xai_cuda_memory_allocated_bytes",
               "GPU memory in tensors now, as LibTorch's caching allocator counts it, bytes",
               Type::kGauge);
  for (const auto& d : devices) {
    out.Sample("xai_cuda_memory_allocated_bytes", {"device"}, {d.device}, d.allocated_bytes);
  }
  out.Describe("xai_cuda_memory_reserved_bytes",
               "GPU memory LibTorch's caching allocator holds now (allocated or cached), bytes",
               Type::kGauge);
  for (const auto& d : devices) {
    out.Sample("xai_cuda_memory_reserved_bytes", {"device"}, {d.device}, d.reserved_bytes);
  }
}

}  // namespace

ServerMetrics::ServerMetrics(const core::Explainer* explainer, const ExplanationCache* cache)
    : requests_(registry_.AddCounter(
          "xai_requests_total",
          "Calls answered, by model, version, RPC, explanation method and status code",
          kCallLabels)),
      duration_(registry_.AddHistogram(
          "xai_request_duration_seconds",
          "From a call's arrival to its answer, seconds: validation, queue and compute",
          kCallLabels, metrics::LatencyBuckets())),
      queue_(registry_.AddHistogram(
          "xai_request_queue_seconds",
          "Time a call waited in its model version's queue for an instance, seconds (calls "
          "that were queued)",
          kCallLabels, metrics::LatencyBuckets())),
      compute_(registry_.AddHistogram(
          "xai_request_compute_seconds",
          "From the start of a call's batch to its answer, seconds: decoding, preprocessing, "
          "the model's work and the answer's assembly (calls that were queued)",
          kCallLabels, metrics::LatencyBuckets())),
      batch_size_(registry_.AddHistogram("xai_request_batch_size",
                                         "Requests in the batch each call ran in (calls that ran)",
                                         kCallLabels, metrics::ExponentialBuckets(1, 2, 10))),
      request_bytes_(registry_.AddCounter("xai_request_bytes_total",
                                          "Request messages received, serialized bytes",
                                          {"model", "version", "rpc"})),
      response_bytes_(registry_.AddCounter("xai_response_bytes_total",
                                           "Response messages sent, serialized bytes",
                                           {"model", "version", "rpc"})),
      http_duration_(registry_.AddHistogram(
          "xai_http_request_duration_seconds",
          "HTTP requests answered (REST and metrics ports), from the request's first byte to the "
          "answer's last byte written (compression and slow readers included), seconds",
          {"port", "code"}, metrics::LatencyBuckets())),
      http_bytes_(registry_.AddCounter(
          "xai_http_response_bytes_total",
          "HTTP answers' bodies as sent (after compression), bytes, by encoding",
          {"port", "encoding"})),
      http_open_(
          registry_.AddGauge("xai_http_connections_open", "HTTP connections open now", {"port"})),
      http_refused_(registry_.AddCounter(
          "xai_http_connections_refused_total",
          "HTTP connections refused at once (503) over the limit in all or per client address",
          {"port", "limit"})),
      http_timeouts_(registry_.AddCounter(
          "xai_http_timeouts_total",
          "HTTP connections closed for a deadline: idle (no request), header (request line "
          "and headers, or the TLS handshake), body, write (the client did not read the answer)",
          {"port", "phase"})) {
  registry_.AddCollector([explainer](SampleWriter& out) { CollectVersions(*explainer, out); });
  if (cache != nullptr) {
    registry_.AddCollector([cache](SampleWriter& out) { cache->Collect(out); });
  }
  registry_.AddCollector(CollectProcess);
  registry_.AddCollector(CollectDeviceMemory);
  const std::string libtorch = core::LibTorchVersion();
  const std::string devices = core::Join(core::VisibleDevices(), ",");
  const std::string blas = core::Blas().description;
  registry_.AddCollector([libtorch, devices, blas](SampleWriter& out) {
    out.Describe("xai_build_info",
                 "Always 1; the labels say which xai-server, built against which LibTorch, "
                 "with which devices visible, its matrix products on which BLAS",
                 Type::kGauge);
    out.Sample("xai_build_info", {"version", "libtorch", "devices", "blas"},
               {XAI_VERSION, libtorch, devices, blas}, 1);
  });
}

ServerMetrics::CallSeries& ServerMetrics::Series(const std::vector<std::string>& labels) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (auto it = series_.find(labels); it != series_.end()) return *it->second;
  }
  const std::vector<std::string> bytes_labels(labels.begin(), labels.begin() + 3);
  auto series = std::make_unique<CallSeries>(
      CallSeries{&requests_.With(labels), &duration_.With(labels), &queue_.With(labels),
                 &compute_.With(labels), &batch_size_.With(labels),
                 &request_bytes_.With(bytes_labels), &response_bytes_.With(bytes_labels)});
  std::unique_lock<std::shared_mutex> lock(mu_);
  return *series_.try_emplace(labels, std::move(series)).first->second;
}

void ServerMetrics::Count(const CallRecord& call) {
  const core::RequestTrace& trace = *call.trace;
  const std::string version = trace.version == 0 ? "" : std::to_string(trace.version);
  CallSeries& series = Series({trace.model, version, std::string(call.rpc), trace.method,
                               std::string(core::StatusCodeName(call.code))});
  series.requests->Increment();
  series.duration->Observe(std::chrono::duration<double>(call.total).count());
  if (trace.queued) {
    series.queue->Observe(std::chrono::duration<double>(trace.queue).count());
    series.compute->Observe(std::chrono::duration<double>(trace.compute).count());
  }
  if (trace.batch_size > 0) series.batch_size->Observe(trace.batch_size);
  series.request_bytes->Increment(static_cast<double>(call.request_bytes));
  series.response_bytes->Increment(static_cast<double>(call.response_bytes));
}

void ServerMetrics::CountHttp(std::string_view port_label, const HttpExchange& exchange) {
  const std::string port(port_label);
  http_duration_.With({port, std::to_string(exchange.status)}).Observe(exchange.total_seconds);
  http_bytes_.With({port, std::string(exchange.encoding)})
      .Increment(static_cast<double>(exchange.response_bytes));
}

void ServerMetrics::CountHttpEvent(std::string_view port, HttpEvent event) {
  const std::string name(port);
  switch (event) {
    case HttpEvent::kOpened:
      http_open_.With({name}).Add(1);
      break;
    case HttpEvent::kClosed:
      http_open_.With({name}).Add(-1);
      break;
    case HttpEvent::kRefusedTotal:
      http_refused_.With({name, "total"}).Increment();
      break;
    case HttpEvent::kRefusedPeer:
      http_refused_.With({name, "peer"}).Increment();
      break;
    default:
      http_timeouts_.With({name, std::string(HttpEventName(event))}).Increment();
  }
}

}  // namespace xai::server
