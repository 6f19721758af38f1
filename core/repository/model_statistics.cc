#include "core/repository/model_statistics.h"

namespace xai::core {

void ModelStatisticsRecorder::Record(const std::string& method, bool ok,
                                     std::chrono::nanoseconds queue,
                                     std::chrono::nanoseconds compute) {
  std::lock_guard<std::mutex> lock(mu_);
  MethodStatistics& s = methods_[method];
  ++(ok ? s.success_count : s.failure_count);
  s.queue_ns += static_cast<uint64_t>(queue.count());
  s.compute_ns += static_cast<uint64_t>(compute.count());
  s.total_ns += static_cast<uint64_t>((queue + compute).count());
}

void ModelStatisticsRecorder::RecordExecution(const std::string& method, int batch_size) {
  std::lock_guard<std::mutex> lock(mu_);
  ++methods_[method].batch_size_counts[batch_size];
}

std::map<std::string, MethodStatistics> ModelStatisticsRecorder::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return methods_;
}

}  // namespace xai::core
