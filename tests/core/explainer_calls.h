// Blocking calls into the asynchronous core::Explainer, for tests.
#ifndef XAI_TESTS_CORE_EXPLAINER_CALLS_H_
#define XAI_TESTS_CORE_EXPLAINER_CALLS_H_

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/explainer.h"

namespace xai::testing {

// An Explainer over `repository` with every model loaded (null, and a test failure, if it
// cannot start).
inline std::unique_ptr<core::Explainer> StartExplainer(const std::string& repository,
                                                       int queue_capacity = 256) {
  core::ExplainerOptions options;
  options.model_repository = repository;
  options.queue_capacity = queue_capacity;
  auto explainer = core::Explainer::Create(options);
  EXPECT_TRUE(explainer.ok()) << explainer.status().ToString();
  if (!explainer.ok()) return nullptr;
  (*explainer)->WaitUntilLoaded();
  return std::move(*explainer);
}

// A float32 tensor image; `data` must outlive the request.
inline core::ImageRef TensorImage(const std::string& data, std::vector<int64_t> shape) {
  core::ImageRef image;
  image.kind = core::ImageRef::Kind::kTensor;
  image.tensor_shape = std::move(shape);
  image.tensor_data = data;
  return image;
}

// Runs `request` through `method` (&Explainer::Classify, ...) and waits for its one answer.
template <typename Result, typename Request>
core::StatusOr<Result> CallAndWait(
    core::Explainer& explainer,
    void (core::Explainer::*method)(Request, core::Explainer::Callback<Result>), Request request) {
  std::promise<core::StatusOr<Result>> done;
  auto answer = done.get_future();
  (explainer.*method)(std::move(request),
                      [&done](core::StatusOr<Result> r) { done.set_value(std::move(r)); });
  return answer.get();
}

inline core::StatusOr<core::ClassifyResult> ClassifyAndWait(core::Explainer& explainer,
                                                            core::ClassifyRequest request) {
  return CallAndWait(explainer, &core::Explainer::Classify, std::move(request));
}

inline core::StatusOr<core::GradCamResult> GradCamAndWait(core::Explainer& explainer,
                                                          core::GradCamRequest request) {
  return CallAndWait(explainer, &core::Explainer::GradCam, std::move(request));
}

inline core::StatusOr<core::AttributeResult> AttributeAndWait(core::Explainer& explainer,
                                                              core::AttributeRequest request) {
  return CallAndWait(explainer, &core::Explainer::Attribute, std::move(request));
}

inline core::StatusOr<core::DecisionPathResult> DecisionPathAndWait(
    core::Explainer& explainer, core::DecisionPathRequest request) {
  return CallAndWait(explainer, &core::Explainer::DecisionPath, std::move(request));
}

}  // namespace xai::testing

#endif  // XAI_TESTS_CORE_EXPLAINER_CALLS_H_
