// Blocking calls into the asynchronous core::Explainer, for tests.
#ifndef XAI_TESTS_CORE_EXPLAINER_CALLS_H_
#define XAI_TESTS_CORE_EXPLAINER_CALLS_H_

#include <future>
#include <utility>

#include "core/explainer.h"

namespace xai::testing {

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
