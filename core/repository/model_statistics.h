// Per model version statistics, as Triton keeps them: request counts and cumulative
// times per method, and how often each batch size ran. Plain data; thread safe.
#ifndef XAI_CORE_REPOSITORY_MODEL_STATISTICS_H_
#define XAI_CORE_REPOSITORY_MODEL_STATISTICS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace xai::core {

struct MethodStatistics {
  uint64_t success_count = 0;
  uint64_t failure_count = 0;
  // Cumulative over the requests counted above, in nanoseconds:
  uint64_t queue_ns = 0;    // waiting in the model version's queue for an instance
  uint64_t compute_ns = 0;  // preprocessing, the model's work and the response's assembly
  uint64_t total_ns = 0;    // from acceptance to the answer: queue + compute
  std::map<int, uint64_t> batch_size_counts;  // batch size -> executions (batches run)
};

class ModelStatisticsRecorder {
 public:
  // Counts one answered request of `method` ("Classify", "GradCAM"), run or not.
  void Record(const std::string& method, bool ok, std::chrono::nanoseconds queue,
              std::chrono::nanoseconds compute);
  // Counts one execution of a batch of `batch_size` requests of `method`.
  void RecordExecution(const std::string& method, int batch_size);

  // A consistent copy, by method.
  std::map<std::string, MethodStatistics> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, MethodStatistics> methods_;  // guarded by mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_MODEL_STATISTICS_H_
