// Blocking calls into the asynchronous core::Explainer, for tests.
#ifndef XAI_TESTS_CORE_EXPLAINER_CALLS_H_
#define XAI_TESTS_CORE_EXPLAINER_CALLS_H_

#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

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

// Runs `request` and waits for its one answer.
inline core::StatusOr<core::ClassifyResult> ClassifyAndWait(core::Explainer& explainer,
                                                             core::ClassifyRequest request) {
  std::promise<core::StatusOr<core::ClassifyResult>> done;
  auto answer = done.get_future();
  explainer.Classify(std::move(request), [&done](core::StatusOr<core::ClassifyResult> r) {
    done.set_value(std::move(r));
  });
  return answer.get();
}

inline core::StatusOr<core::GradCamResult> GradCamAndWait(core::Explainer& explainer,
                                                          core::GradCamRequest request) {
  std::promise<core::StatusOr<core::GradCamResult>> done;
  auto answer = done.get_future();
  explainer.GradCam(std::move(request), [&done](core::StatusOr<core::GradCamResult> r) {
    done.set_value(std::move(r));
  });
  return answer.get();
}

}  // namespace xai::testing

#endif  // XAI_TESTS_CORE_EXPLAINER_CALLS_H_
