// libFuzzer target: raw protobuf bytes of Classify, GradCAM and DecisionPath requests
// (the first byte picks which) through the server's conversion, validation and, when
// valid, the model itself: the demo model repository (XAI_FUZZ_REPOSITORY, default the
// source tree's models/). Seeds in fuzz/corpus/request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>

#include "core/explainer.h"
#include "server/proto_convert.h"
#include "xai/v1/explainer.pb.h"

namespace {

xai::core::Explainer* TheExplainer() {
  static xai::core::Explainer* explainer = [] {
    xai::core::ExplainerOptions options;
    const char* repository = std::getenv("XAI_FUZZ_REPOSITORY");
    options.model_repository = repository != nullptr ? repository : XAI_SOURCE_DIR "/models";
    options.max_image_pixels = 4'000'000;
    options.max_image_side = 4096;
    options.intra_op_threads = 1;
    auto made = xai::core::Explainer::Create(options);
    if (!made.ok()) std::abort();
    (*made)->WaitUntilLoaded();
    return made->release();  // lives for the process
  }();
  return explainer;
}

// Calls `method` and waits for its one answer, with a deadline so nothing can hang.
template <typename Request, typename Result>
void CallAndWait(void (xai::core::Explainer::*method)(Request,
                                                      xai::core::Explainer::Callback<Result>),
                 Request request) {
  request.context.deadline = xai::core::Clock::now() + std::chrono::seconds(10);
  std::promise<void> done;
  (TheExplainer()->*method)(std::move(request),
                            [&done](xai::core::StatusOr<Result>) { done.set_value(); });
  done.get_future().wait();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheExplainer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 3;
  const void* body = data + 1;
  const int length = static_cast<int>(size - 1);
  if (kind == 0) {
    xai::v1::ClassifyRequest proto;
    if (!proto.ParseFromArray(body, length)) return 0;
    xai::core::ClassifyRequest request;
    request.model = xai::server::FromProto(proto.model());
    request.image = xai::server::FromProto(proto.image());
    request.top_k = proto.top_k();
    CallAndWait(&xai::core::Explainer::Classify, std::move(request));
  } else if (kind == 1) {
    xai::v1::GradCAMRequest proto;
    if (!proto.ParseFromArray(body, length)) return 0;
    CallAndWait(&xai::core::Explainer::GradCam, xai::server::FromProto(proto));
  } else {
    xai::v1::DecisionPathRequest proto;
    if (!proto.ParseFromArray(body, length)) return 0;
    CallAndWait(&xai::core::Explainer::DecisionPath, xai::server::FromProto(proto));
  }
  return 0;
}
