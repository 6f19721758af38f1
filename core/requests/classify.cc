#include "core/requests/classify.h"

#include "core/methods/classifier.h"
#include "core/requests/request_job.h"

namespace xai::core {
namespace {

struct ClassifySpec {
  int top_k = kDefaultTopK;
};

class ClassifyJob : public RequestJob<ClassifyResult> {
 public:
  ClassifyJob(std::shared_ptr<const ServableModel> model, const RequestEnvironment& environment,
              ClassifyRequest request, ClassifySpec spec, RequestCallback<ClassifyResult> done)
      : RequestJob(std::move(model), environment, "Classify", BatchKey::Of<ClassifyJob>(""),
                   request.image, /*keep_original=*/false, std::move(request.context),
                   std::move(done)),
        top_k_(spec.top_k) {}

  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<ClassifyJob, ClassifyResult>(
        batch, [](ModelPool::Handle& instance, const at::Tensor& input,
                  const std::vector<ClassifyJob*>& jobs, const std::vector<PreprocessedImage>&) {
          const ServableModel& model = jobs[0]->model();
          std::vector<StatusOr<ClassifyResult>> results;
          // The frozen, optimised copy where the pool made one (DescribeModel's
          // inference_graph): Classify captures nothing and needs no gradients.
          StatusOr<at::Tensor> logits = ForwardLogits(instance, input, /*frozen=*/true);
          if (!logits.ok()) {
            results.assign(jobs.size(), logits.status().WithContext(model.display_name()));
            return results;
          }
          for (size_t b = 0; b < jobs.size(); ++b) {
            auto top = TopClasses((*logits)[b], jobs[b]->top_k_);
            if (!top.ok()) {
              results.push_back(top.status().WithContext(model.display_name()));
              continue;
            }
            results.push_back(
                ClassifyResult{{model.name, model.version}, Labeled(model, std::move(*top))});
          }
          return results;
        });
  }

 private:
  const int top_k_;
};

}  // namespace

void QueueClassify(const RequestEnvironment& environment, const ServingFn& serving,
                   ClassifyRequest request, RequestCallback<ClassifyResult> done) {
  if (request.top_k < 0) {
    done(InvalidArgumentError("top_k must be >= 0 (0: " + std::to_string(kDefaultTopK) + "), got " +
                              std::to_string(request.top_k)));
    return;
  }
  const auto version = serving(request.model);
  ValidateAndQueue<ClassifyJob, ClassifySpec>(
      version, environment, std::move(request), std::move(done),
      [](const ClassifyRequest& r, const ServableModel&, ClassifySpec* spec) {
        spec->top_k = r.top_k == 0 ? kDefaultTopK : r.top_k;
        return OkStatus();
      });
}

}  // namespace xai::core
