// The engine's front door: validates requests against the model's config, queues them on
// the model version's scheduler (which batches them and runs them on its instances), and
// answers through a callback. Never blocks its caller on a model. Knows nothing of gRPC;
// its header pulls in no LibTorch, so adapters that include it compile fast.
#ifndef XAI_CORE_EXPLAINER_H_
#define XAI_CORE_EXPLAINER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/layer_info.h"
#include "core/model_repository.h"
#include "core/model_statistics.h"
#include "core/path_types.h"
#include "core/status.h"

namespace xai::core {

class ImagePreprocessor;

using Clock = std::chrono::steady_clock;

struct ExplainerOptions {
  std::string model_repository;  // directory, see ModelRepository
  int64_t max_image_pixels =
      50'000'000;            // width * height of an encoded image, checked from its header
  int max_targets = 64;      // target classes of one GradCAM request
  int max_cam_layers = 16;   // layers of one GradCAM request
  int queue_capacity = 256;  // requests a model version queues unless its config sets
                             // max_queue_size; more: RESOURCE_EXHAUSTED
  int intra_op_threads = 0;  // LibTorch's intra-op threads (process-wide); 0: its default
  std::chrono::milliseconds max_queue_time{
      30000};  // longest wait in a model's queue; then RESOURCE_EXHAUSTED
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
  std::string_view encoded;           // kEncoded: the image file's bytes
  std::vector<int64_t> tensor_shape;  // kTensor: [C,H,W] or [1,C,H,W]
  std::string_view tensor_data;       // kTensor: float32 little-endian
};

// Whether the caller gave up on a request: called while it waits in a queue, from the
// scheduler's threads, so it must be thread safe and cheap (e.g. ServerContext::IsCancelled).
using CancelledFn = std::function<bool()>;

struct ClassifyRequest {
  ModelRef model;
  ImageRef image;
  int top_k = 0;  // 0: 5
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;  // for logs
  CancelledFn cancelled;   // unset: never
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

// A dense float32 tensor, row-major.
struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct OverlaySpec {
  bool enabled = false;
  float image_weight = 0;         // 0: 0.5; must be in [0,1]
  bool model_input_size = false;  // draw over the model's input instead of the original
  std::string colormap;           // OpenCV colormap name; "": jet
  int png_compression = 0;        // 1-9; 0: 1
};

struct GradCamRequest {
  ModelRef model;
  ImageRef image;
  std::vector<int> target_classes;  // empty: the top-1 class
  std::vector<std::string> layers;  // empty: the model's default CAM layer
  int method = 0;                   // xai.v1.CamMethod's number; 0: GRAD_CAM
  OverlaySpec overlay;
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;
  CancelledFn cancelled;  // unset: never
};

struct CamExplanation {
  int target_class = 0;
  FloatTensor cam;          // [H,W] at the model's input size, in [0,1]
  FloatTensor raw;          // [h,w] of the first layer, after ReLU, before normalisation
  std::string overlay_png;  // when overlay.enabled
};

struct GradCamResult {
  ModelRef model;
  std::vector<LabeledScore> classes;         // top classes of the same forward
  std::vector<CamExplanation> explanations;  // one per target, in request order
};

struct DecisionPathRequest {
  ModelRef model;
  ImageRef image;
  int target_class = -1;            // -1: the top-1 class
  std::vector<std::string> layers;  // shallow to deep; empty: the model's default path layers
  float threshold = 0;              // in (0,1]; 0: 0.5
  int max_channels = 0;             // 0: 16
  int top_chains = 0;               // 0: 3
  bool render = false;              // the diagram PNG
  bool return_maps = false;         // every node's activation map
  Clock::time_point deadline = Clock::time_point::max();
  std::string request_id;
  CancelledFn cancelled;
};

struct PathNode {
  int layer = 0;  // index into DecisionPathResult::layers
  int channel = 0;
  float relevance = 0;
  float share = 0;  // of the layer's positive relevance
  FloatTensor map;  // [h, w], with return_maps
};

struct PathChain {
  std::vector<int> channels;  // one per layer
  float log_score = 0;
};

struct DecisionPathResult {
  ModelRef model;
  std::vector<LabeledScore> classes;  // top classes of the same forward
  int target_class = 0;
  std::vector<std::string> layers;
  std::vector<PathNode> nodes;
  std::vector<PathEdge> edges;
  std::vector<PathChain> chains;  // best first
  std::string diagram_png;        // with render
  // With the model's class path library at the same layers: per layer, the weighted
  // Jaccard similarity to the target class's usual critical channels, and the mean.
  std::vector<float> profile_similarity;
  float profile_similarity_mean = 0;
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

struct ModelStatisticsEntry {
  ModelRef model;
  std::map<std::string, MethodStatistics> methods;  // "Classify", "GradCAM"
};

inline constexpr int kDefaultTopK = 5;

struct DecisionPathSpec;
struct GradCamSpec;
struct ServableModel;

// Checks a GradCAM request against `model` and fills `spec` (layers resolved to the
// default, the earliest layer to cut at, the input size). INVALID_ARGUMENT naming the
// field (layers: with the closest valid CAM layers), UNIMPLEMENTED for methods not served.
Status ValidateGradCam(const GradCamRequest& request, const ServableModel& model,
                       const ExplainerOptions& options, GradCamSpec* spec);

// Checks a DecisionPath request against `model` and fills `spec` (defaults applied).
// INVALID_ARGUMENT naming the field: target_class, layers (unknown, not 4-D, repeated, out
// of execution order), threshold, max_channels, top_chains.
Status ValidateDecisionPath(const DecisionPathRequest& request, const ServableModel& model,
                            DecisionPathSpec* spec);

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

  // Answers through `done` exactly once: on a scheduler thread, or on the calling thread
  // when the request is refused before queueing. Codes: INVALID_ARGUMENT, NOT_FOUND,
  // UNAVAILABLE (model not ready, shutting down), RESOURCE_EXHAUSTED (queue full, image
  // over the pixel limit), DEADLINE_EXCEEDED and CANCELLED (while queued: never run),
  // INTERNAL (the model failed: every request of its batch).
  void Classify(ClassifyRequest request, Callback<ClassifyResult> done);

  // Class activation maps (GRAD_CAM, GRAD_CAM_PLUS_PLUS, XGRAD_CAM, HIRES_CAM, LAYER_CAM)
  // at the requested layers, one per target, from one forward pass. Codes as Classify;
  // UNIMPLEMENTED for the methods not served yet.
  void GradCam(GradCamRequest request, Callback<GradCamResult> done);

  // The chains of channels that carried the decision (see core/decision_path.h). Codes as
  // GradCam.
  void DecisionPath(DecisionPathRequest request, Callback<DecisionPathResult> done);

  // Statistics of READY versions: every model when `model.name` is empty, every ready
  // version of the model when `model.version` is 0. Codes as DescribeModel.
  StatusOr<std::vector<ModelStatisticsEntry>> Statistics(const ModelRef& model) const;

  // Every model version and its state.
  std::vector<ModelVersionStatus> ListModels() const;
  // The ready version's description (same codes as ModelRepository::Get).
  StatusOr<ModelDescription> DescribeModel(const ModelRef& model) const;

  // Blocks until the initial load has finished (every version READY or FAILED).
  void WaitUntilLoaded();
  bool loaded() const;

  // Requests waiting for an instance, over every ready model version.
  int queued() const;

  // Refuses new requests (UNAVAILABLE), finishes queued and running ones. Idempotent.
  void Shutdown();

 private:
  explicit Explainer(const ExplainerOptions& options);
  // The ready version a request names; UNAVAILABLE once shutting down, else as
  // ModelRepository::Get.
  StatusOr<std::shared_ptr<const ServableModel>> ServingModel(const ModelRef& ref) const;

  ExplainerOptions options_;
  // Declared before the repository, so destroyed after it: the models' schedulers, which
  // the repository's destruction stops, may still be preprocessing queued requests.
  std::unique_ptr<ImagePreprocessor> preprocessor_;
  std::unique_ptr<ModelRepository> repository_;
  std::atomic<bool> stopping_{false};
  std::thread loader_;
  mutable std::mutex loaded_mu_;
  std::condition_variable loaded_cv_;
  bool loaded_ = false;  // guarded by loaded_mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_EXPLAINER_H_
