// The server's Prometheus metrics: what every call counts (ServerMetrics::Count, from the
// handlers) and what a scrape reads at that moment (model versions' queues, instances
// and states, the process, the build, device memory). Names and meanings are listed in
// docs/OPERATIONS.md.
#ifndef XAI_SERVER_SERVER_METRICS_H_
#define XAI_SERVER_SERVER_METRICS_H_

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/metrics.h"
#include "server/call_record.h"
#include "server/http_server.h"

namespace xai::core {
class Explainer;
}

namespace xai::server {

class ExplanationCache;

class ServerMetrics {
 public:
  // `explainer` is read at every scrape; it must outlive this object.
  // `cache`: the explanation cache, whose xai_cache_* families /metrics shows; null: none.
  explicit ServerMetrics(const core::Explainer* explainer, const ExplanationCache* cache = nullptr);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Counts one answered call. Thread safe; atomics once the call's series exist.
  void Count(const CallRecord& call);

  // Counts one answered HTTP request of the port labelled `port_label` ("http",
  // "metrics"): duration to its last byte, bytes sent by encoding; and what happens to its
  // connections (open, refused, timeouts).
  void CountHttp(std::string_view port_label, const HttpExchange& exchange);
  void CountHttpEvent(std::string_view port, HttpEvent event);

  // The page served at /metrics (Prometheus' text format 0.0.4).
  std::string Page() const { return registry_.Expose(); }

 private:
  // The series one kind of call updates, found with one lookup.
  struct CallSeries {
    metrics::Counter* requests;
    metrics::Histogram* duration;
    metrics::Histogram* queue;
    metrics::Histogram* compute;
    metrics::Histogram* batch_size;
    metrics::Counter* request_bytes;
    metrics::Counter* response_bytes;
  };
  CallSeries& Series(const std::vector<std::string>& labels);

  metrics::Registry registry_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& duration_;
  metrics::Family<metrics::Histogram>& queue_;
  metrics::Family<metrics::Histogram>& compute_;
  metrics::Family<metrics::Histogram>& batch_size_;
  metrics::Family<metrics::Counter>& request_bytes_;
  metrics::Family<metrics::Counter>& response_bytes_;
  metrics::Family<metrics::Histogram>& http_duration_;
  metrics::Family<metrics::Counter>& http_bytes_;
  metrics::Family<metrics::Gauge>& http_open_;
  metrics::Family<metrics::Counter>& http_refused_;
  metrics::Family<metrics::Counter>& http_timeouts_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<CallSeries>> series_;  // guarded by mu_
};

}  // namespace xai::server

#endif  // XAI_SERVER_SERVER_METRICS_H_
