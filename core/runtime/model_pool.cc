#include "core/runtime/model_pool.h"

#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/runtime/attention_rewrite.h"
#include "core/runtime/devices.h"
#include "core/runtime/freezing.h"
#include "core/runtime/graph_split.h"
#include "core/runtime/layer_capture.h"
#include "core/runtime/model_output.h"
#include "core/runtime/torch_errors.h"
#include "core/runtime/traced_flags.h"

namespace xai::core {
namespace {

std::string ShapeString(c10::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

// Checks the warm-up output for a batch of `batch` and returns the number of classes it
// shows.
StatusOr<int64_t> CheckLogits(const c10::IValue& output, int64_t batch) {
  if (!output.isTensor()) {
    return FailedPreconditionError(
        "forward must return one tensor of logits [batch, num_classes], got " + output.tagKind());
  }
  const at::Tensor& logits = output.toTensor();
  if (logits.dim() != 2 || logits.size(0) != batch || logits.size(1) < 1) {
    if (batch > 1) {
      return FailedPreconditionError(
          "dynamic_batching.max_batch_size is " + std::to_string(batch) +
          " but forward on a batch of " + std::to_string(batch) + " returned " +
          ShapeString(logits.sizes()) + ", not [" + std::to_string(batch) +
          ", num_classes]: the model does not take batches; remove "
          "dynamic_batching or export the model with a free batch dimension");
    }
    return FailedPreconditionError(
        "forward must return logits of shape [1, num_classes] for one image, got " +
        ShapeString(logits.sizes()));
  }
  if (!logits.is_floating_point()) {
    return FailedPreconditionError("forward must return floating-point logits, got " +
                                   std::string(c10::toString(logits.scalar_type())));
  }
  return logits.size(1);
}

}  // namespace

namespace {

// A probe batch of two inputs of `input_shape`: smooth, varied, the same in every run.
at::Tensor Probe(const std::vector<int64_t>& input_shape) {
  std::vector<int64_t> shape = {2};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  int64_t numel = 1;
  for (const int64_t d : shape) numel *= d;
  return at::sin(at::arange(numel, at::kFloat) * 0.37).reshape(shape);
}

// OK when `frozen` gives `model`'s logits on the probe within 1e-4 relative to their
// largest magnitude.
Status CheckFrozen(torch::jit::Module& model, torch::jit::Module& frozen,
                   const std::vector<int64_t>& input_shape) {
  try {
    const at::Tensor probe = Probe(input_shape);
    c10::InferenceMode guard;
    const c10::IValue expected = model.forward({probe});
    const c10::IValue got = frozen.forward({probe});
    if (!expected.isTensor() || !got.isTensor() ||
        expected.toTensor().sizes() != got.toTensor().sizes()) {
      return FailedPreconditionError("the frozen copy's output differs in kind or shape");
    }
    const double error = RelativeDifference(got.toTensor(), expected.toTensor());
    if (!(error <= 1e-4)) {
      return FailedPreconditionError("the frozen copy's logits differ by " + std::to_string(error) +
                                     " (relative)");
    }
    return OkStatus();
  } catch (const std::exception& e) {
    return FailedPreconditionError("the frozen copy fails: " + ExceptionMessage(e));
  }
}

// OK when `prefix` (LayerSplit::FreezePrefix of `split`) gives the layer's output and the
// crossing tensors of `model`'s own graph on the probe, within 1e-4 relative.
Status CheckFrozenPrefix(torch::jit::Module& model, const LayerSplit& split,
                         torch::jit::Module& prefix, const std::vector<int64_t>& input_shape) {
  try {
    const at::Tensor probe = Probe(input_shape);
    c10::InferenceMode guard;
    const LayerSplit::Cut expected = split.Forward(model, probe);
    const LayerSplit::Cut got = LayerSplit::RunPrefix(prefix, probe);
    if (got.values.size() != expected.values.size()) {
      return FailedPreconditionError("the frozen prefix returns other values");
    }
    double error = RelativeDifference(got.output, expected.output);
    for (size_t i = 0; i < got.values.size(); ++i) {
      if (got.values[i].isTensor() != expected.values[i].isTensor()) {
        return FailedPreconditionError("the frozen prefix returns other values");
      }
      if (got.values[i].isTensor()) {
        error = std::max(
            error, RelativeDifference(got.values[i].toTensor(), expected.values[i].toTensor()));
      }
    }
    if (!(error <= 1e-4)) {
      return FailedPreconditionError("the frozen prefix's output differs by " +
                                     std::to_string(error) + " (relative)");
    }
    return OkStatus();
  } catch (const std::exception& e) {
    return FailedPreconditionError("the frozen prefix fails: " + ExceptionMessage(e));
  }
}

}  // namespace

StatusOr<std::unique_ptr<ModelPool>> ModelPool::Create(const ModelPoolOptions& options) {
  const std::string& name = options.display_name;
  if (options.input_shape.size() != 3) {
    return InvalidArgumentError(name + ": input shape must be [C,H,W]");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.model_path, ec)) {
    return FailedPreconditionError(name + ": no model file at " + options.model_path);
  }
  std::vector<ModelPoolOptions::InstanceGroup> groups = options.instance_groups;
  if (groups.empty()) groups.push_back({});
  std::vector<int> counts;  // instances per entry of pool->devices_
  std::unique_ptr<ModelPool> pool(new ModelPool(options));
  for (const auto& group : groups) {
    if (group.count < 1) {
      return InvalidArgumentError(name + ": an instance group's count must be >= 1, got " +
                                  std::to_string(group.count));
    }
    auto devices = ResolveDevices(group.devices);
    if (!devices.ok()) return devices.status().WithContext(name);
    for (const c10::Device& device : *devices) {
      auto it = std::find(pool->devices_.begin(), pool->devices_.end(), device);
      if (it == pool->devices_.end()) {
        pool->devices_.push_back(device);
        counts.push_back(group.count);
      } else {
        counts[it - pool->devices_.begin()] += group.count;
      }
    }
  }
  if (options.max_batch_size < 1) {
    return InvalidArgumentError(name + ": max batch size must be >= 1, got " +
                                std::to_string(options.max_batch_size));
  }
  std::vector<int64_t> warm_up_batches = {1};
  if (options.max_batch_size > 1) warm_up_batches.push_back(options.max_batch_size);

  for (size_t d = 0; d < pool->devices_.size(); ++d) {
    const c10::Device device = pool->devices_[d];
    if (device.is_cuda()) UseExactFloat32OnCuda();
    try {
      torch::jit::Module base = torch::jit::load(options.model_path, device);
      base.eval();
      const StatusOr<std::string> output = SelectLogitsOutput(base, options.output);
      if (!output.ok()) return output.status().WithContext(name);
      pool->output_note_ = *output;
      const StatusOr<int> attention = MakeAttentionDifferentiable(base);
      if (!attention.ok()) return attention.status().WithContext(name);
      pool->attention_rewrites_ = *attention;
      if (device.is_cuda()) {
        const StatusOr<int> cleared = ClearTracedTf32(base);
        if (!cleared.ok()) return cleared.status().WithContext(name);
      }
      std::shared_ptr<torch::jit::Module> frozen;
      if (options.freeze_for_inference) {
        if (device.is_cpu()) {
          const at::Tensor probe = Probe(options.input_shape).slice(0, 0, 1);
          auto made = FreezeFastest(base, probe, &pool->frozen_optimized_);
          if (made.ok()) {
            frozen = std::make_shared<torch::jit::Module>(std::move(*made));
            pool->frozen_note_ = "frozen for inference";
          } else {
            pool->frozen_note_ = "not frozen: " + made.status().message();
          }
        } else {
          pool->frozen_note_ = "not frozen: " + device.str() + " (the CPU only)";
        }
      }
      if (options.instrument_for_capture) {
        const Status instrumented = InstrumentForCapture(base);
        if (!instrumented.ok()) return instrumented.WithContext(name);
      }
      // Explanations differentiate with respect to activations only: parameter gradients
      // would cost a second backward through the whole network.
      for (at::Tensor p : base.parameters()) p.requires_grad_(false);
      for (int i = 0; i < counts[d]; ++i) {
        // clone(true) gives a new module object and types sharing the same tensors.
        torch::jit::Module module = i == 0 ? base : base.clone(/*inplace=*/true);
        module.eval();
        auto instance = std::make_unique<Instance>(
            Instance{std::move(module), device, InstanceStream(device), frozen, {}});
        for (const int64_t batch : warm_up_batches) {
          std::vector<int64_t> shape = {batch};
          shape.insert(shape.end(), options.input_shape.begin(), options.input_shape.end());
          c10::IValue output;
          {
            ExecutionScope scope(device, instance->stream, options.precision);
            c10::InferenceMode guard;
            output = instance->module.forward(
                {torch::zeros(shape, torch::TensorOptions().device(device))});
          }
          auto classes = CheckLogits(output, batch);
          if (!classes.ok()) return classes.status().WithContext(name);
          if (pool->num_classes_ != 0 && *classes != pool->num_classes_) {
            return FailedPreconditionError(name + ": instances disagree on the number of classes");
          }
          pool->num_classes_ = *classes;
        }
        if (i == 0 && frozen != nullptr) {
          const Status same = CheckFrozen(instance->module, *frozen, options.input_shape);
          if (!same.ok()) {
            frozen = nullptr;
            instance->frozen = nullptr;
            pool->frozen_note_ = "not frozen: " + same.message();
          }
        }
        pool->instances_.push_back(std::move(instance));
      }
    } catch (const std::exception& e) {
      return FailedPreconditionError(name + ": cannot load " + options.model_path + " on " +
                                     device.str() + ": " + ExceptionMessage(e));
    }
  }
  for (int i = static_cast<int>(pool->instances_.size()) - 1; i >= 0; --i) pool->free_.push_back(i);
  pool->free_count_.store(static_cast<int>(pool->free_.size()), std::memory_order_relaxed);
  return pool;
}

ModelPool::~ModelPool() = default;

StatusOr<ModelPool::Handle> ModelPool::Acquire(Clock::time_point deadline) {
  const Clock::time_point now = Clock::now();
  const Clock::time_point limit =
      (deadline - now > options_.acquire_timeout) ? now + options_.acquire_timeout : deadline;
  std::unique_lock<std::mutex> lock(mu_);
  if (!freed_.wait_until(lock, limit, [this] { return !free_.empty(); })) {
    if (limit == deadline) {
      return DeadlineExceededError(options_.display_name +
                                   ": deadline passed while waiting for a free instance");
    }
    return ResourceExhaustedError(options_.display_name + ": all " + std::to_string(size()) +
                                  " instances stayed busy for " +
                                  std::to_string(options_.acquire_timeout.count()) + " ms");
  }
  const int index = free_.back();
  free_.pop_back();
  free_count_.store(static_cast<int>(free_.size()), std::memory_order_relaxed);
  return Handle(this, index);
}

void ModelPool::Return(int index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(index);
    free_count_.store(static_cast<int>(free_.size()), std::memory_order_relaxed);
  }
  freed_.notify_one();
}

ModelPool::Handle::Handle(ModelPool* pool, int index)
    : pool_(pool), instance_(pool->instances_[index].get()), index_(index) {}

ModelPool::Handle::Handle(Handle&& other) noexcept
    : pool_(other.pool_), instance_(other.instance_), index_(other.index_) {
  other.pool_ = nullptr;
  other.instance_ = nullptr;
  other.index_ = -1;
}

ModelPool::Handle& ModelPool::Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    instance_ = other.instance_;
    index_ = other.index_;
    other.pool_ = nullptr;
    other.instance_ = nullptr;
    other.index_ = -1;
  }
  return *this;
}

ModelPool::Handle::~Handle() { Release(); }

const LayerSplit* ModelPool::Handle::split(const std::string& path) {
  auto found = instance_->splits.find(path);
  if (found == instance_->splits.end()) {
    StatusOr<std::unique_ptr<LayerSplit>> made = LayerSplit::Create(instance_->module, path);
    found = instance_->splits.emplace(path, made.ok() ? std::move(*made) : nullptr).first;
  }
  return found->second.get();
}

torch::jit::Module* ModelPool::Handle::frozen_prefix(const std::string& path) {
  if (instance_->frozen == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(pool_->prefixes_mu_);
  auto found = pool_->prefixes_.find(path);
  if (found == pool_->prefixes_.end()) {
    if (pool_->KeptPrefixes() >= pool_->options_.max_frozen_prefixes) return nullptr;
    FrozenPrefix made;
    made.note = "frozen for inference";
    const LayerSplit* at_layer = split(path);
    const StatusOr<torch::jit::Module> frozen =
        at_layer == nullptr ? StatusOr<torch::jit::Module>(
                                  FailedPreconditionError("the graph does not split at the layer"))
                            : at_layer->FreezePrefix(instance_->module, pool_->frozen_optimized_);
    if (!frozen.ok()) {
      made.note = "not frozen: " + frozen.status().message();
    } else {
      made.module = std::make_shared<torch::jit::Module>(*frozen);
      const Status same = CheckFrozenPrefix(instance_->module, *at_layer, *made.module,
                                            pool_->options_.input_shape);
      if (!same.ok()) {
        made.module = nullptr;
        made.note = "not frozen: " + same.message();
      }
    }
    found = pool_->prefixes_.emplace(path, std::move(made)).first;
  }
  return found->second.module.get();
}

std::string ModelPool::prefix_note(const std::string& path) const {
  std::lock_guard<std::mutex> lock(prefixes_mu_);
  auto found = prefixes_.find(path);
  if (found != prefixes_.end()) return found->second.note;
  const int kept = KeptPrefixes();
  if (kept >= options_.max_frozen_prefixes) {
    return "not frozen: the prefixes of " + std::to_string(kept) + " other layers are kept already";
  }
  return std::string();
}

int ModelPool::KeptPrefixes() const {
  return static_cast<int>(std::count_if(prefixes_.begin(), prefixes_.end(),
                                        [](const auto& entry) { return entry.second.module; }));
}

void ModelPool::Handle::Release() {
  if (pool_ != nullptr) pool_->Return(index_);
  pool_ = nullptr;
  instance_ = nullptr;
  index_ = -1;
}

Status CheckBatchLogits(const at::Tensor& logits, int64_t batch, int64_t classes) {
  if (logits.dim() != 2 || logits.size(0) != batch || logits.size(1) != classes) {
    std::ostringstream shape;
    shape << logits.sizes();
    return InternalError("forward on a batch of " + std::to_string(batch) + " returned " +
                         shape.str() + ", not [" + std::to_string(batch) + ", " +
                         std::to_string(classes) + "]");
  }
  return OkStatus();
}

}  // namespace xai::core
