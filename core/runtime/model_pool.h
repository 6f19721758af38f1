// A pool of TorchScript instances of one model version, spread over devices.
//
// The file is loaded once per device; the other instances on that device are clones
// that share its parameter and buffer tensors (Module::clone(inplace=true)), so N
// instances cost one copy of the weights plus N module objects. Each instance has its own
// module object and method graphs, which later per-instance graph rewrites rely on.
//
// Thread safety: Acquire and the Handle's destructor may be called from any thread. An
// instance is used by one Handle at a time; the holder may run it freely.
#ifndef XAI_CORE_RUNTIME_MODEL_POOL_H_
#define XAI_CORE_RUNTIME_MODEL_POOL_H_

#include <torch/csrc/jit/api/module.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/status.h"
#include "core/runtime/execution.h"

namespace xai::core {

class LayerSplit;

struct ModelPoolOptions {
  // The TorchScript file (torch.jit.trace or torch.jit.script output).
  std::string model_path;
  // Prefixes every error message, e.g. "model 'resnet18' v2".
  std::string display_name;
  // Instance groups as in the model config: `count` instances on each named device
  // ("cpu", "cuda:N", "cuda", "auto"). Counts of groups naming the same device add up.
  // Empty: one instance on "auto".
  struct InstanceGroup {
    std::vector<std::string> devices;  // empty: auto
    int count = 1;                     // >= 1
  };
  std::vector<InstanceGroup> instance_groups;
  // Shape of one preprocessed input, [C,H,W]; used for the warm-up forward, which also
  // checks that the model returns logits of shape [1, num_classes].
  std::vector<int64_t> input_shape;
  // Largest batch the instances will run (dynamic batching). Above 1, each instance also
  // warms up on a batch this large, which must return [max_batch_size, num_classes].
  int max_batch_size = 1;
  // Which output holds the logits when forward returns a tuple, list or dict (see
  // model_output.h): an index or a key; "": the defaults.
  std::string output;
  // Precision of the forward on CUDA instances (CPU instances run float32).
  Precision precision = Precision::kFloat32;
  // Rewrite the loaded module for layer capture (see layer_capture.h) before its first
  // run; every instance inherits it. Needed by Grad-CAM; costs a few interpreter ops per
  // module in a plain forward.
  bool instrument_for_capture = true;
  // On the CPU, also make a frozen copy of the model (torch.jit.freeze: weights inlined,
  // batch norms folded into their convolutions), also optimised for inference where that
  // is faster on a probe (FreezeFastest: torch.jit.optimize_for_inference, oneDNN
  // convolutions; not with LibTorch 2.x, whose TensorExpr fuser hangs on such a graph on
  // the CPU), shared by the device's instances, for the forwards that capture nothing and
  // need no gradients (Classify, a perturbation method's perturbed inputs), and in the same
  // form the network before a CAM layer (Handle::frozen_prefix). It is kept only when it gives the
  // model's logits on a probe input within 1e-4 (relative); its float rounding differs from the
  // model's.
  bool freeze_for_inference = true;
  // With the frozen copy: how many layers' frozen prefixes (Handle::frozen_prefix) the pool
  // keeps at most. Each holds the weights before its layer once more (folded), and none is
  // dropped once made, so that a workload spread over more layers than this runs the model's
  // own graph for the later ones instead of freezing again and again.
  int max_frozen_prefixes = 4;
  // Upper bound on how long Acquire waits for a free instance, whatever the deadline.
  std::chrono::milliseconds acquire_timeout{30000};
};

class ModelPool {
 public:
  using Clock = std::chrono::steady_clock;

  struct Instance {
    torch::jit::Module module;
    c10::Device device;
    std::optional<c10::Stream> stream;  // CUDA: a stream of its own
    // The frozen copy (see ModelPoolOptions::freeze_for_inference), or null. Shared, and
    // run concurrently by the device's instances: it holds no state a forward changes.
    std::shared_ptr<torch::jit::Module> frozen;
    // Per layer path, the split of this instance's forward at the layer's output
    // (graph_split.h), or nullptr where the graph does not split there, made at first use by
    // the instance's holder (Handle::split).
    std::unordered_map<std::string, std::shared_ptr<LayerSplit>> splits;
  };

  // Exclusive use of one instance until destroyed or moved from. Must not outlive the
  // pool. Not thread safe itself: one request (thread) holds it.
  class Handle {
   public:
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle();

    torch::jit::Module& module() { return instance_->module; }
    // The frozen copy for forwards without capture or gradients, or null.
    torch::jit::Module* frozen() { return instance_->frozen.get(); }
    // The split of this instance's forward at the output of layer `path` (graph_split.h),
    // made at its first use and kept; nullptr where the graph does not split there.
    const LayerSplit* split(const std::string& path);
    // The network before layer `path`'s output, frozen for inference
    // (LayerSplit::FreezePrefix), made at its first use on any of the pool's instances and
    // shared by those with a frozen copy; it runs concurrently (it holds no state).
    // nullptr where this instance has no frozen copy, the graph does not split at the
    // layer, the frozen prefix could not be made or gave other outputs than the model's
    // own graph on a probe, or the pool keeps max_frozen_prefixes already (prefix_note says
    // which). Its first call costs a freeze.
    torch::jit::Module* frozen_prefix(const std::string& path);
    Instance& instance() { return *instance_; }
    c10::Device device() const { return instance_->device; }
    const std::optional<c10::Stream>& stream() const { return instance_->stream; }
    Precision precision() const { return pool_->options_.precision; }
    int64_t num_classes() const { return pool_->num_classes_; }
    // Index of the instance in the pool, 0 <= index < pool.size().
    int index() const { return index_; }

   private:
    friend class ModelPool;
    Handle(ModelPool* pool, int index);
    void Release();

    ModelPool* pool_ = nullptr;
    Instance* instance_ = nullptr;
    int index_ = -1;
  };

  // Loads the model on every device, clones the instances, puts them in eval mode with
  // gradients off for every parameter, and runs one warm-up forward per instance.
  // Errors: INVALID_ARGUMENT for bad options or devices; FAILED_PRECONDITION when the file
  // is missing, is not TorchScript, fails its forward on the configured input, or does not
  // return a [1, num_classes] tensor (nor [max_batch_size, num_classes] for a full batch), or
  // its output holds no tensor of logits that options.output selects. Messages
  // start with options.display_name.
  static StatusOr<std::unique_ptr<ModelPool>> Create(const ModelPoolOptions& options);

  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;
  ~ModelPool();

  // Waits for a free instance until `deadline` or the pool's acquire_timeout, whichever
  // is first. DEADLINE_EXCEEDED when the deadline passed first, RESOURCE_EXHAUSTED when the
  // timeout did (every instance stayed busy).
  StatusOr<Handle> Acquire(Clock::time_point deadline = Clock::time_point::max());

  int size() const { return static_cast<int>(instances_.size()); }
  int64_t num_classes() const { return num_classes_; }
  int max_batch_size() const { return options_.max_batch_size; }
  Precision precision() const { return options_.precision; }
  // Distinct devices, in the order the instance groups named them.
  const std::vector<c10::Device>& devices() const { return devices_; }
  // Instance `i` (for inspection at load time and tests; not for concurrent use).
  const Instance& instance(int i) const { return *instances_[i]; }
  // What became of the frozen copy: "frozen for inference", or why there is none.
  const std::string& frozen_note() const { return frozen_note_; }
  // What became of the frozen prefix up to layer `path` (Handle::frozen_prefix): "frozen for
  // inference", why there is none, or "" when none was asked for yet (and the pool could
  // still make one).
  std::string prefix_note(const std::string& path) const;
  // Which output of forward holds the logits: "tensor", "dict key 'logits'", ...
  const std::string& output_note() const { return output_note_; }
  // Fast-path attention nodes replaced by differentiable ones (attention_rewrite.h), per
  // device's copy.
  int attention_rewrites() const { return attention_rewrites_; }
  // Idle instances now; reads an atomic, never the pool's lock (metrics scrapes call it).
  int free_instances() const { return free_count_.load(std::memory_order_relaxed); }

 private:
  explicit ModelPool(ModelPoolOptions options) : options_(std::move(options)) {}
  // prefixes_ that hold a module; call with prefixes_mu_ held.
  int KeptPrefixes() const;
  void Return(int index);

  ModelPoolOptions options_;
  std::vector<c10::Device> devices_;
  std::vector<std::unique_ptr<Instance>> instances_;
  int64_t num_classes_ = 0;
  std::string frozen_note_ = "not frozen: not asked";
  bool frozen_optimized_ = false;  // the frozen copy is also optimised (FreezeFastest)
  std::string output_note_ = "tensor";
  int attention_rewrites_ = 0;

  struct FrozenPrefix {
    std::shared_ptr<torch::jit::Module> module;  // null: none (see note)
    std::string note;
  };
  mutable std::mutex prefixes_mu_;
  std::unordered_map<std::string, FrozenPrefix> prefixes_;  // guarded by prefixes_mu_

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<int> free_;           // indices of idle instances; guarded by mu_
  std::atomic<int> free_count_{0};  // free_.size(), stored under mu_
};

// OK when `logits` is [batch, classes]; else INTERNAL naming the shape it has.
Status CheckBatchLogits(const at::Tensor& logits, int64_t batch, int64_t classes);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_MODEL_POOL_H_
