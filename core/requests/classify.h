// Classify: the class probabilities of an image, batched with other Classify requests.
#ifndef XAI_CORE_REQUESTS_CLASSIFY_H_
#define XAI_CORE_REQUESTS_CLASSIFY_H_

#include <memory>
#include <vector>

#include "core/base/status.h"
#include "core/requests/request_types.h"

namespace xai::core {

class ModelVersion;

struct ClassifyRequest {
  ModelRef model;
  ImageRef image;
  int top_k = 0;  // 0: 5
  RequestContext context;
};

struct ClassifyResult {
  ModelRef model;  // the version that served
  std::vector<LabeledScore> classes;
};

// Checks `request` (INVALID_ARGUMENT for top_k < 0, before the model is looked up), then
// queues it on `version` (or answers `version`'s error). Answers `done` exactly once.
void QueueClassify(const RequestEnvironment& environment, const ServingFn& serving,
                   ClassifyRequest request, RequestCallback<ClassifyResult> done);

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_CLASSIFY_H_
