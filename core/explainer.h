// The engine's front door: validates requests against the model's config, runs them on a
// bounded executor, and answers through a callback. Knows nothing of gRPC; its header
// pulls in no LibTorch, so adapters that include it compile fast.
#ifndef XAI_CORE_EXPLAINER_H_
#define XAI_CORE_EXPLAINER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/layer_info.h"
#include "core/model_repository.h"
#include "core/status.h"

namespace xai::core {

class BoundedExecutor;
class ImagePreprocessor;

using Clock = std::chrono::steady_clock;

struct ExplainerOptions {
  std::string model_repository;             // directory, see ModelRepository
  int64_t max_image_pixels = 50'000'000;    // width * height of an encoded image, checked from its header
  int worker_threads = 0;                   // threads running requests; 0: hardware threads
  int queue_capacity = 256;                 // requests waiting for a worker; more: RESOURCE_EXHAUSTED
  int intra_op_threads = 0;                 // LibTorch's intra-op threads (process-wide); 0: its default
  std::chrono::milliseconds acquire_timeout{30000};  // longest wait for a free model instance
};

struct ModelRef {
  std::string name;
  int64_t version = 0;  // 0: newest ready
};

// The request's image. The bytes are borrowed: they must stay valid until the request's
// callback has been called.
struct ImageRef {
  enum class Kind { kNone, kEncoded, kTensor };
  Kind kind = Kind::kNone;
  std::string_view encoded;            // kEncoded: the image file's bytes
  std::vector<int64_t> tensor_shape;   // kTensor: [C,H,W] or [1,C,H,W]
  std::string_view tensor_data;        // kTensor: float32 little-endian
};

struct ClassifyRequest {
  ModelRef model;
  ImageRef image;
  int top_k = 0;                                 // 0: 5
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;                        // for logs
};

struct LabeledScore {
  int index = 0;
  std::string label;
  float probability = 0;
  float logit = 0;
};

struct ClassifyResult {
  ModelRef model;  // the version that served
  std::vector<LabeledScore> classes;
};

struct ModelDescription {
  ModelRef model;
  std::vector<int64_t> input_shape;  // [C,H,W]
  int num_classes = 0;
  std::vector<std::string> labels;
  std::vector<LayerInfo> layers;
  std::string default_cam_layer;
  std::vector<std::string> default_path_layers;
  std::vector<std::string> devices;
};

inline constexpr int kDefaultTopK = 5;

class Explainer {
 public:
  template <typename T>
  using Callback = std::function<void(StatusOr<T>)>;

  // NOT_FOUND when the repository directory does not exist. Models load in the
  // background; see WaitUntilLoaded. `on_state_change`, if set, is called on the loading
  // thread after every model state change and once more when loaded() turns true (e.g.
  // to update health checks).
  static StatusOr<std::unique_ptr<Explainer>> Create(const ExplainerOptions& options,
                                                     std::function<void()> on_state_change = {});
  ~Explainer();  // Shutdown()

  // Answers through `done` exactly once: on a worker thread, or on the calling thread when
  // the request is refused before queueing. Codes: INVALID_ARGUMENT, NOT_FOUND,
  // UNAVAILABLE (model not ready, shutting down), RESOURCE_EXHAUSTED (queue full, image
  // over the pixel limit, no instance free in time), DEADLINE_EXCEEDED, INTERNAL.
  void Classify(ClassifyRequest request, Callback<ClassifyResult> done);

  // Every model version and its state.
  std::vector<ModelVersionStatus> ListModels() const;
  // The ready version's description (same codes as ModelRepository::Get).
  StatusOr<ModelDescription> DescribeModel(const ModelRef& model) const;

  // Blocks until the initial load has finished (every version READY or FAILED).
  void WaitUntilLoaded();
  bool loaded() const;

  // Requests waiting for a worker thread.
  int queued() const;

  // Refuses new requests (UNAVAILABLE), finishes queued and running ones. Idempotent.
  void Shutdown();

 private:
  explicit Explainer(const ExplainerOptions& options);

  ExplainerOptions options_;
  std::unique_ptr<ModelRepository> repository_;
  std::unique_ptr<ImagePreprocessor> preprocessor_;
  std::unique_ptr<BoundedExecutor> executor_;
  std::thread loader_;
  mutable std::mutex loaded_mu_;
  std::condition_variable loaded_cv_;
  bool loaded_ = false;  // guarded by loaded_mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_EXPLAINER_H_
