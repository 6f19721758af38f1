// The generic machinery of a request type: its job in the model version's scheduler
// (RequestJob), the run of a batch of such jobs (RunJobs) and the way in (ValidateAndQueue).
// A request type (core/requests/<name>.cc) subclasses RequestJob with its parameters and
// its batch computation. Included by request files only (LibTorch, OpenCV).
#ifndef XAI_CORE_REQUESTS_REQUEST_JOB_H_
#define XAI_CORE_REQUESTS_REQUEST_JOB_H_

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/image/image_preprocessor.h"
#include "core/repository/model_version.h"
#include "core/repository/servable_model.h"
#include "core/requests/request_types.h"
#include "core/requests/request_util.h"
#include "core/runtime/batch_scheduler.h"
#include "core/runtime/model_pool.h"

namespace xai::core {

// A request waiting in its model version's scheduler: what its batch needs from it, and
// its callback, called exactly once through Answer (or Fail, which the scheduler calls
// when it drops or refuses the job). It pins its model until it is answered.
template <typename Result>
class RequestJob : public BatchJob {
 public:
  RequestJob(std::shared_ptr<const ServableModel> model, const RequestEnvironment& environment,
             const char* method, BatchKey key, const ImageRef& image, bool keep_original,
             RequestContext context, RequestCallback<Result> done)
      : model_(std::move(model)),
        environment_(environment),
        method_(method),
        key_(std::move(key)),
        image_(image),
        keep_original_(keep_original),
        context_(std::move(context)),
        done_(std::move(done)) {}

  const BatchKey& batch_key() const override { return key_; }
  Clock::time_point deadline() const override { return context_.deadline; }
  bool cancelled() const override { return context_.IsCancelled(); }
  void Fail(const Status& status) override { Answer(status, Clock::now()); }

  // Records the statistics and the trace, and calls back. `started`: when the job's batch
  // began (its queue time ends there); `batch_size`: the requests of the batch it ran in,
  // 0 when it never ran.
  void Answer(StatusOr<Result> result, Clock::time_point started, int batch_size = 0) {
    const Clock::duration queue = started - enqueued();
    const Clock::duration compute = Clock::now() - started;
    model_->statistics.Record(method_, result.ok(), queue, compute);
    if (RequestTrace* trace = context_.trace.get()) {
      trace->method = MethodLabel();
      trace->queued = true;
      trace->queue = queue;
      trace->compute = compute;
      trace->batch_size = batch_size;
    }
    done_(std::move(result));
  }
  // Counts the execution of this job's batch, of `size` requests.
  void CountExecution(int size) const { model_->statistics.RecordExecution(method_, size); }

  StatusOr<PreprocessedImage> Prepare() const {
    return PrepareInput(image_, *model_, *environment_.preprocessor, keep_original_);
  }
  const ServableModel& model() const { return *model_; }
  const RequestEnvironment& environment() const { return environment_; }

 protected:
  // The method label of the trace (GradCAM: the CAM method's API name); "" by default.
  virtual std::string MethodLabel() const { return ""; }

 private:
  const std::shared_ptr<const ServableModel> model_;
  const RequestEnvironment& environment_;
  const char* method_;
  const BatchKey key_;
  const ImageRef image_;
  const bool keep_original_;
  const RequestContext context_;
  const RequestCallback<Result> done_;
};

// Runs a batch of `Job`s (RequestJob<Result> subclasses; the batch key makes every job of
// a batch a `Job`): prepares every input (a bad one fails its own request only), stacks
// the rest into one [B,C,H,W] tensor, and answers each job with what
// `compute(instance, input, jobs, prepared)` returns for it: one StatusOr<Result> per
// job, in order.
template <typename Job, typename Result, typename Compute>
void RunJobs(std::vector<std::unique_ptr<BatchJob>>& batch, Compute compute) {
  const Clock::time_point started = Clock::now();
  std::vector<Job*> jobs;
  std::vector<PreprocessedImage> prepared;
  for (auto& item : batch) {
    Job* job = static_cast<Job*>(item.get());
    StatusOr<PreprocessedImage> input = InternalError("preprocessing failed");
    try {
      input = job->Prepare();
    } catch (const std::exception& e) {
      input = InternalError(std::string("preprocessing failed: ") + e.what());
    }
    if (!input.ok()) {
      job->Answer(input.status(), started);  // never ran: batch size 0
      continue;
    }
    jobs.push_back(job);
    prepared.push_back(std::move(*input));
  }
  if (jobs.empty()) return;
  const ServableModel& model = jobs[0]->model();
  const int size = static_cast<int>(jobs.size());
  std::vector<StatusOr<Result>> results;
  try {
    StatusOr<ModelPool::Handle> instance = model.pool->Acquire();
    if (instance.ok()) {
      std::vector<at::Tensor> inputs;
      for (const PreprocessedImage& p : prepared) inputs.push_back(p.input);
      results = compute(*instance, size == 1 ? inputs[0] : at::cat(inputs), jobs, prepared);
    } else {
      results.assign(jobs.size(), instance.status());
    }
  } catch (const std::exception& e) {
    results.assign(jobs.size(), InternalError(model.display_name() + ": batch of " +
                                              std::to_string(size) + " failed: " + e.what()));
  }
  // Counted before answering, so that a caller that reads statistics after its answer
  // sees its batch.
  jobs[0]->CountExecution(size);
  for (int i = 0; i < size; ++i) jobs[i]->Answer(std::move(results[i]), started, size);
}

// Checks `request` against the version's model with `validate(request, model, &spec)` and
// queues a Job on the version's scheduler; answers `done` at once when the version or the
// request is bad.
template <typename Job, typename Spec, typename Request, typename Result, typename Validate>
void ValidateAndQueue(const StatusOr<std::shared_ptr<ModelVersion>>& version,
                      const RequestEnvironment& environment, Request request,
                      RequestCallback<Result> done, Validate validate) {
  if (!version.ok()) {
    done(version.status());
    return;
  }
  if (RequestTrace* trace = request.context.trace.get()) {
    trace->model = (*version)->model().name;
    trace->version = (*version)->model().version;
  }
  Spec spec;
  if (Status valid = validate(request, (*version)->model(), &spec); !valid.ok()) {
    done(valid);
    return;
  }
  (*version)->scheduler().Enqueue(std::make_unique<Job>((*version)->shared_model(), environment,
                                                        std::move(request), std::move(spec),
                                                        std::move(done)));
}

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_REQUEST_JOB_H_
