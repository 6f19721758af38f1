// The engine's front door, a thin facade: each request type's code (validation against the
// model, batch job, result assembly) lives in core/requests/<request>.{h,cc}; the facade
// owns the repository, the preprocessor and the compute pool, and hands each request to
// its file with the version it names. Never blocks its caller on a model. Knows nothing of
// gRPC; its header pulls in no LibTorch, so adapters that include it compile fast.
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

#include "core/base/status.h"
#include "core/methods/method_catalog.h"
#include "core/repository/model_repository.h"
#include "core/repository/model_statistics.h"
#include "core/requests/attribute.h"
#include "core/requests/classify.h"
#include "core/requests/decision_path.h"
#include "core/requests/grad_cam.h"
#include "core/requests/request_types.h"
#include "core/runtime/layer_info.h"

namespace xai::core {

class ComputePool;
class ImagePreprocessor;

struct ExplainerOptions {
  std::string model_repository;  // directory, see ModelRepository
  int64_t max_image_pixels =
      50'000'000;                  // width * height of an encoded image, checked from its header
  int64_t max_image_side = 16384;  // width or height of an encoded image, the same way
  int max_targets = 64;            // target classes of one GradCAM request
  int max_cam_layers = 16;         // layers of one GradCAM request
  // Most perturbed inputs one forward of a SCORE_CAM or ABLATION_CAM request may batch
  // (its batch_size); the default batch_size is 64, or this when smaller.
  int max_perturbation_batch = 256;
  // Most points (steps x baselines) one forward and backward of an Attribute request may
  // batch (its batch_size; unset: 32, or this when smaller), and most integration steps.
  int max_attribution_batch = 128;
  int max_attribution_steps = 1024;
  int queue_capacity = 256;  // requests a model version queues unless its config sets
                             // max_queue_size; more: RESOURCE_EXHAUSTED
  int intra_op_threads = 0;  // LibTorch's intra-op threads (process-wide); 0: its default
  std::chrono::milliseconds max_queue_time{
      30000};  // longest wait in a model's queue; then RESOURCE_EXHAUSTED
  // Helper threads for the independent items inside a request (DecisionPath's backwards),
  // shared by every request; -1: the cores LibTorch's intra-op threads leave idle.
  int compute_threads = -1;
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
  std::string recommended_cam_layer;        // transformers: the last block's first LayerNorm
  std::string default_cam_layer_problem;    // why default_cam_layer is ""
  std::string default_path_layers_problem;  // why default_path_layers is empty
  std::string output;                       // which output of forward holds the logits
  // What Classify's forwards (and the perturbation methods' and metrics' perturbed ones)
  // run on: "frozen for inference" (the pool's frozen copy), or "not frozen: <why>" (the
  // model's own graph).
  std::string inference_graph;
  std::vector<MethodInfo> methods;  // the served methods (core/methods/method_catalog.h)
};

struct ModelStatisticsEntry {
  ModelRef model;
  std::map<std::string, MethodStatistics> methods;  // "Classify", "GradCAM"
};

class Explainer {
 public:
  template <typename T>
  using Callback = RequestCallback<T>;

  // NOT_FOUND when the repository directory does not exist. Models load in the
  // background; see WaitUntilLoaded. `on_state_change`, if set, is called on the loading
  // thread after every model state change and once more when loaded() turns true (e.g.
  // to update health checks).
  static StatusOr<std::unique_ptr<Explainer>> Create(const ExplainerOptions& options,
                                                     std::function<void()> on_state_change = {});
  ~Explainer();  // Shutdown()

  // Answers through `done` exactly once: on a scheduler thread, or on the calling thread
  // when the request is refused before queueing. Codes: INVALID_ARGUMENT (also a request
  // over a per-request limit: image pixels or side, targets, layers, steps), NOT_FOUND,
  // UNAVAILABLE (model not ready, shutting down), RESOURCE_EXHAUSTED (capacity: queue full,
  // waited too long), DEADLINE_EXCEEDED and CANCELLED (while queued: never run),
  // INTERNAL (the model failed: every request of its batch).
  void Classify(ClassifyRequest request, Callback<ClassifyResult> done);

  // Class activation maps (GRAD_CAM, GRAD_CAM_PLUS_PLUS, XGRAD_CAM, HIRES_CAM, LAYER_CAM)
  // at the requested layers, one per target, from one forward pass. Codes as Classify;
  // UNIMPLEMENTED for the methods not served yet.
  void GradCam(GradCamRequest request, Callback<GradCamResult> done);

  // Pixel attributions (SALIENCY, INPUT_X_GRADIENT, INTEGRATED_GRADIENTS), one per target,
  // with the approximation error of those that integrate. Codes as GradCam.
  void Attribute(AttributeRequest request, Callback<AttributeResult> done);

  // The chains of channels that carried the decision (see core/methods/path/decision_path.h). Codes
  // as GradCam.
  void DecisionPath(DecisionPathRequest request, Callback<DecisionPathResult> done);

  // Which load of which version a request for `model` would be served by now, for caching
  // its answer: a reload (or a newer version, for version 0) changes `load_id`.
  // `cacheable` is false when the version's config says `no_cache`. Codes as DescribeModel.
  struct CacheIdentity {
    std::string name;
    int64_t version = 0;
    uint64_t load_id = 0;
    bool cacheable = true;
  };
  StatusOr<CacheIdentity> ServingIdentity(const ModelRef& model) const;

  // Statistics of READY versions: every model when `model.name` is empty, every ready
  // version of the model when `model.version` is 0. Codes as DescribeModel.
  StatusOr<std::vector<ModelStatisticsEntry>> Statistics(const ModelRef& model) const;

  // Every model version and its state.
  std::vector<ModelVersionStatus> ListModels() const;
  // The ready version's description (same codes as ModelRepository::Get).
  StatusOr<ModelDescription> DescribeModel(const ModelRef& model) const;

  // Blocks until the initial load has finished (every version READY or FAILED) and
  // on_state_change has been told.
  void WaitUntilLoaded();
  bool loaded() const;

  // Requests waiting for an instance, over every ready model version.
  int queued() const;

  // Model administration (the ModelAdmin service, --poll-repository). Each blocks while
  // models load or drain: call them from a lifecycle thread, never a request's. Codes as
  // ModelRepository's Load, Unload and Reload; UNAVAILABLE once shutting down.
  Status LoadModel(const std::string& name);
  Status UnloadModel(const std::string& name);
  Status ReloadModel(const std::string& name);
  // Applies what changed on disk since the previous call (the first call only takes note):
  // a new model directory is loaded, a removed one unloaded, a model any of whose files
  // changed (size or modification time) reloaded, as ReloadModel does. `acted_on` gets
  // the models it loaded, unloaded or reloaded. Returns the first failure.
  Status SyncWithDisk(std::vector<std::string>* acted_on = nullptr);

  // Refuses new requests (UNAVAILABLE), finishes queued and running ones. Idempotent.
  void Shutdown();

 private:
  explicit Explainer(const ExplainerOptions& options);
  // The ready version a request names; UNAVAILABLE once shutting down, else as
  // ModelRepository::GetVersion.
  StatusOr<std::shared_ptr<ModelVersion>> ServingVersion(const ModelRef& ref) const;

  ExplainerOptions options_;
  // Declared before the repository, so destroyed after it: the models' schedulers, which
  // the repository's destruction drains, may still be running queued requests.
  std::unique_ptr<ImagePreprocessor> preprocessor_;
  std::unique_ptr<ComputePool> compute_;
  RequestEnvironment environment_;  // points at the two above
  ServingFn serving_;               // ServingVersion
  std::unique_ptr<ModelRepository> repository_;
  std::atomic<bool> stopping_{false};
  std::mutex sync_mu_;                                 // one SyncWithDisk at a time
  std::map<std::string, uint64_t> disk_fingerprints_;  // guarded by sync_mu_
  bool disk_noted_ = false;                            // guarded by sync_mu_
  std::thread loader_;
  mutable std::mutex loaded_mu_;
  std::condition_variable loaded_cv_;
  bool loaded_ = false;          // guarded by loaded_mu_
  bool load_announced_ = false;  // on_state_change has seen loaded_; guarded by loaded_mu_
};

}  // namespace xai::core

#endif  // XAI_CORE_EXPLAINER_H_
