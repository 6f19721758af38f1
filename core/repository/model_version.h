// A loaded model version as the repository owns it: the model, shared with the requests
// queued on it (each pins it with a shared_ptr, as Triton's requests hold their model),
// and the scheduler that runs them on the model's instances.
//
// Lifecycle: the repository drains a version (Drain: no new request, every queued one
// run and answered, workers joined) on the thread that unloads it or shuts it down,
// then drops it. A worker never holds a ModelVersion, so a version is never released,
// and its workers never joined, by one of its own workers.
#ifndef XAI_CORE_REPOSITORY_MODEL_VERSION_H_
#define XAI_CORE_REPOSITORY_MODEL_VERSION_H_

#include <memory>

#include "core/runtime/batch_scheduler.h"

namespace xai::core {

struct ServableModel;

class ModelVersion {
 public:
  ModelVersion(std::shared_ptr<const ServableModel> model, BatchSchedulerOptions scheduling);
  ~ModelVersion();  // Drain()
  ModelVersion(const ModelVersion&) = delete;
  ModelVersion& operator=(const ModelVersion&) = delete;

  const ServableModel& model() const { return *model_; }
  const std::shared_ptr<const ServableModel>& shared_model() const { return model_; }
  // Thread safe; jobs queued on it must pin shared_model().
  BatchScheduler& scheduler() const { return *scheduler_; }

  // Refuses new requests (UNAVAILABLE), runs and answers every queued one, joins the
  // workers. Idempotent. Must not be called from one of this version's workers.
  void Drain() const { scheduler_->Shutdown(); }

 private:
  const std::shared_ptr<const ServableModel> model_;
  const std::unique_ptr<BatchScheduler> scheduler_;
};

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_MODEL_VERSION_H_
