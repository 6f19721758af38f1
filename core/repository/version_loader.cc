#include "core/repository/version_loader.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/base/quote.h"
#include "core/base/strings.h"
#include "core/repository/model_config.h"
#include "core/repository/model_repository.h"
#include "core/repository/model_version.h"
#include "core/repository/path_profile.h"
#include "core/repository/servable_model.h"
#include "core/runtime/feature_layout.h"
#include "core/runtime/input_tensor.h"
#include "core/runtime/layer_inspector.h"

namespace xai::core {
namespace fs = std::filesystem;

namespace {

using Pending = PendingVersion;

constexpr char kConfigFile[] = "config.pbtxt";
constexpr char kDefaultLabelsFile[] = "labels.txt";
constexpr char kModelFile[] = "model.pt";

bool IsVersionDirectory(const fs::directory_entry& entry, int64_t* version) {
  const std::string name = entry.path().filename().string();
  if (!entry.is_directory() || name.empty() || name.size() > 18 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *version = std::stoll(name);
  return *version > 0;
}

// OK when `path`, its symlinks resolved, lies inside `root` (resolved too); else
// PERMISSION_DENIED naming both: nothing outside the repository is ever read, whatever a
// symlink in it points at. A path that does not exist (yet) is left to its reader.
Status CheckConfined(const fs::path& root, const fs::path& path) {
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(root, ec);
  if (ec) return OkStatus();
  const fs::path real = fs::weakly_canonical(path, ec);
  if (ec) return OkStatus();
  auto p = real.begin();
  for (auto r = real_root.begin(); r != real_root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator
    if (p == real.end() || *p != *r) {
      return PermissionDeniedError(path.string() + " resolves to " + real.string() +
                                   ", outside the model repository " + real_root.string() +
                                   ": links must stay inside it");
    }
  }
  return OkStatus();
}

}  // namespace

std::vector<PendingVersion> ScanModel(const fs::path& root, const fs::path& dir) {
  const std::string dir_name = dir.filename().string();
  Pending base;
  base.name = dir_name;
  base.model_dir = dir;
  if (!IsValidModelName(dir_name)) {
    base.problem = InvalidArgumentError("directory name \"" + dir_name +
                                        "\" is not a valid model name ([A-Za-z0-9_.-]+)");
    return {base};
  }
  base.problem = CheckConfined(root, dir / kConfigFile);
  if (!base.problem.ok()) return {base};
  auto config = ReadModelConfig((dir / kConfigFile).string());
  if (!config.ok()) {
    base.problem = config.status();
  } else {
    base.config = *config;
    base.problem = ValidateModelConfig(base.config).WithContext((dir / kConfigFile).string());
    if (base.problem.ok() && !base.config.name().empty() && base.config.name() != dir_name) {
      base.problem = InvalidArgumentError(
          (dir / kConfigFile).string() + ": name \"" + base.config.name() +
          "\" must equal the directory name \"" + dir_name + "\" (or be left empty)");
    }
  }
  std::vector<Pending> versions;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    int64_t version = 0;
    if (!IsVersionDirectory(entry, &version)) continue;
    Pending p = base;
    p.version = version;
    versions.push_back(std::move(p));
  }
  if (versions.empty()) {
    if (base.problem.ok()) {
      base.problem =
          NotFoundError("no version directory (" + dir.string() + "/1/" + kModelFile + ", ...)");
    }
    versions.push_back(base);
  }
  return versions;
}

namespace {

// Checks a configured layer against the probe's table: a CAM layer, and with `nchw` an NCHW
// one (DecisionPath's).
Status CheckFeatureLayer(const ServableModel& model, const std::string& path,
                         const std::string& field, bool nchw = false) {
  const LayerInfo* layer = model.FindLayer(path);
  if (layer == nullptr) {
    return InvalidArgumentError(field + " \"" + path + "\" is not a module the model runs");
  }
  if (!layer->is_feature_map())
    return InvalidArgumentError(field + ": " + UnresolvedLayoutMessage(*layer));
  if (nchw && layer->layout.kind != FeatureLayout::kNchw) {
    return InvalidArgumentError(field + " \"" + path + "\" is " + layer->layout.ToString() +
                                "; DecisionPath follows the channels of NCHW feature maps only");
  }
  return OkStatus();
}

// Resolves every layer's layout (LayerInfo::layout, layout_note): declared in the config's
// cam_layers, else inferred from its shape; 4-D layers that read both ways are probed once
// more at another input size. A declaration that does not fit its layer leaves that layer
// unresolved with the reason, logged: it blocks no other use of the model.
void ResolveLayouts(ServableModel& model, const ModelPool::Instance& instance) {
  std::vector<LayerInfo>& layers = model.layers;
  const int64_t height = model.input_shape[1];
  const int64_t width = model.input_shape[2];
  const auto& declared = model.config.cam_layers();
  std::vector<size_t> undecided;
  for (size_t l = 0; l < layers.size(); ++l) {
    LayerInfo& layer = layers[l];
    const auto found =
        std::find_if(declared.begin(), declared.end(),
                     [&](const xai::v1::LayerLayout& d) { return d.layer() == layer.path; });
    if (found != declared.end() && found->layout() != xai::v1::LAYOUT_AUTO) {
      const std::string field = "cam_layers[" + std::to_string(found - declared.begin()) + "]";
      StatusOr<LayerLayout> layout =
          ApplyDeclaration(layer.output_shape, DeclarationOf(*found), height, width);
      if (layout.ok()) {
        layer.layout = *layout;
        layer.layout_note = "declared in config.pbtxt (" + field + ")";
      } else {
        layer.layout_note =
            field + " in config.pbtxt does not fit the layer: " + layout.status().message();
        spdlog::warn("{}: {}", model.display_name(), layer.layout_note);
      }
      continue;
    }
    LayoutInference inferred =
        InferLayout(layer.output_shape, layer.type, height, width, layer.path);
    layer.layout = inferred.layout;
    layer.layout_note = std::move(inferred.note);
    if (inferred.wants_second_probe) undecided.push_back(l);
  }
  for (const xai::v1::LayerLayout& d : declared) {
    if (model.FindLayer(d.layer()) == nullptr) {
      spdlog::warn("{}: cam_layers names \"{}\", which is not a module the model runs",
                   model.display_name(), d.layer());
    }
  }
  if (undecided.empty()) return;
  // The channels stay and the grid grows with the input: twice the size (1.5 above 512).
  const int64_t other_height = height <= 512 ? 2 * height : height + height / 2;
  const int64_t other_width = width <= 512 ? 2 * width : width + width / 2;
  std::vector<std::string> paths;
  for (const size_t l : undecided) paths.push_back(layers[l].path);
  const StatusOr<std::vector<std::vector<int64_t>>> probed =
      ProbeShapes(instance.module, paths,
                  at::zeros({1, model.input_shape[0], other_height, other_width},
                            at::TensorOptions().device(instance.device)));
  for (size_t i = 0; i < undecided.size(); ++i) {
    LayerInfo& layer = layers[undecided[i]];
    LayoutInference decided = InferFromSecondProbe(
        layer.output_shape, probed.ok() ? (*probed)[i] : std::vector<int64_t>{}, layer.path);
    layer.layout = decided.layout;
    layer.layout_note = std::move(decided.note);
  }
}

// The default CAM and path layers, or why there are none (logged). A configured layer that
// cannot be used leaves the model serving: Classify and the attributions need no layer.
void ChooseDefaultLayers(ServableModel& model) {
  const xai::v1::ModelConfig& config = model.config;
  model.recommended_cam_layer = RecommendedCamLayer(model.layers);
  if (!config.default_cam_layer().empty()) {
    const Status usable = CheckFeatureLayer(model, config.default_cam_layer(), "default_cam_layer");
    if (usable.ok()) {
      model.default_cam_layer = config.default_cam_layer();
    } else {
      model.default_cam_layer_problem = "config.pbtxt's " + usable.message();
      spdlog::warn("{}: {}; GradCAM requests must name their layers", model.display_name(),
                   model.default_cam_layer_problem);
    }
  } else {
    model.default_cam_layer = !model.recommended_cam_layer.empty() ? model.recommended_cam_layer
                                                                   : DefaultCamLayer(model.layers);
    if (model.default_cam_layer.empty()) {
      model.default_cam_layer_problem =
          "the model has no layer whose output is a feature map in a known layout (NCHW, NHWC, "
          "TOKENS); name one in layers, or declare a layer's layout in config.pbtxt's cam_layers";
    }
  }
  if (!config.default_path_layers().empty()) {
    for (int i = 0; i < config.default_path_layers_size(); ++i) {
      const Status usable =
          CheckFeatureLayer(model, config.default_path_layers(i),
                            "default_path_layers[" + std::to_string(i) + "]", /*nchw=*/true);
      if (!usable.ok()) {
        model.default_path_layers_problem = "config.pbtxt's " + usable.message();
        spdlog::warn("{}: {}; DecisionPath requests must name their layers", model.display_name(),
                     model.default_path_layers_problem);
        return;
      }
    }
    model.default_path_layers.assign(config.default_path_layers().begin(),
                                     config.default_path_layers().end());
    return;
  }
  if (!model.recommended_cam_layer.empty()) {
    model.default_path_layers_problem =
        "DecisionPath follows the channels of convolutional NCHW feature maps, and this model's "
        "blocks output transformer tokens or channels-last maps (docs/METHODS.md)";
    return;
  }
  model.default_path_layers = DefaultPathLayers(model.layers);
  if (model.default_path_layers.empty()) {
    model.default_path_layers_problem =
        "no direct child of the model outputs an NCHW feature map; name the layers";
  }
}

}  // namespace

StatusOr<std::shared_ptr<ModelVersion>> LoadVersion(const PendingVersion& p,
                                                    const ModelRepositoryOptions& options) {
  static std::atomic<uint64_t> loads{0};
  auto model = std::make_shared<ServableModel>();
  model->name = p.name;
  model->version = p.version;
  model->load_id = ++loads;
  model->config = p.config;
  const xai::v1::InputSpec& input = p.config.input();
  model->input_shape = {ChannelsOf(input.color_order()), input.height(), input.width()};

  ModelPoolOptions pool_options;
  pool_options.model_path = (p.model_dir / std::to_string(p.version) / kModelFile).string();
  XAI_RETURN_IF_ERROR(CheckConfined(options.root, pool_options.model_path));
  pool_options.display_name = model->display_name();
  pool_options.input_shape = model->input_shape;
  pool_options.output = p.config.output();
  if (p.config.has_dynamic_batching()) {
    pool_options.max_batch_size = p.config.dynamic_batching().max_batch_size();
  }
  switch (p.config.precision()) {
    case xai::v1::FP16:
      pool_options.precision = Precision::kFloat16;
      break;
    case xai::v1::BF16:
      pool_options.precision = Precision::kBFloat16;
      break;
    default:
      pool_options.precision = Precision::kFloat32;
      break;
  }
  for (const xai::v1::InstanceGroup& group : p.config.instance_group()) {
    pool_options.instance_groups.push_back(
        {std::vector<std::string>(group.devices().begin(), group.devices().end()),
         std::max(1, group.count())});
  }
  XAI_ASSIGN_OR_RETURN(model->pool, ModelPool::Create(pool_options));

  const std::string labels_file =
      p.config.labels_file().empty() ? kDefaultLabelsFile : p.config.labels_file();
  const fs::path labels_path = p.model_dir / labels_file;
  XAI_RETURN_IF_ERROR(CheckConfined(options.root, labels_path));
  std::error_code ec;
  if (fs::exists(labels_path, ec) || !p.config.labels_file().empty()) {
    XAI_ASSIGN_OR_RETURN(model->labels, ReadLabels(labels_path.string()));
    if (static_cast<int64_t>(model->labels.size()) != model->pool->num_classes()) {
      return InvalidArgumentError(labels_path.string() + " has " +
                                  std::to_string(model->labels.size()) +
                                  " labels but the model outputs " +
                                  std::to_string(model->pool->num_classes()) + " classes");
    }
  }

  const ModelPool::Instance& first = model->pool->instance(0);
  std::vector<int64_t> batch = {1};
  batch.insert(batch.end(), model->input_shape.begin(), model->input_shape.end());
  XAI_ASSIGN_OR_RETURN(
      model->layers,
      InspectLayers(first.module, at::zeros(batch, at::TensorOptions().device(first.device))));

  ResolveLayouts(*model, first);
  ChooseDefaultLayers(*model);

  const fs::path profile_path = p.model_dir / std::to_string(p.version) / kPathProfileFile;
  if (fs::exists(profile_path, ec)) {
    XAI_RETURN_IF_ERROR(CheckConfined(options.root, profile_path));
    XAI_ASSIGN_OR_RETURN(model->path_profile, ReadPathProfile(profile_path.string()));
    for (int i = 0; i < model->path_profile->layers_size(); ++i) {
      XAI_RETURN_IF_ERROR(
          CheckFeatureLayer(*model, model->path_profile->layers(i),
                            profile_path.string() + ": layers[" + std::to_string(i) + "]",
                            /*nchw=*/true));
    }
  }

  BatchSchedulerOptions scheduling;
  scheduling.display_name = model->display_name();
  scheduling.workers = model->pool->size();
  scheduling.queue_capacity =
      p.config.max_queue_size() > 0 ? p.config.max_queue_size() : options.queue_capacity;
  scheduling.max_batch_size = model->pool->max_batch_size();
  scheduling.max_queue_time = options.max_queue_time;
  scheduling.max_queue_delay = std::chrono::microseconds(
      p.config.has_dynamic_batching() ? p.config.dynamic_batching().max_queue_delay_us() : 0);
  return std::make_shared<ModelVersion>(std::shared_ptr<const ServableModel>(std::move(model)),
                                        std::move(scheduling));
}

namespace {

// " (auto: ...)" when a group asked for "auto" (or named no device) and got the CPU, so
// that the log says why a GPU node runs on its CPU.
std::string AutoNote(const xai::v1::ModelConfig& config, const ModelPool& pool) {
  bool automatic = config.instance_group().empty();
  for (const xai::v1::InstanceGroup& group : config.instance_group()) {
    automatic =
        automatic || group.devices().empty() ||
        std::find(group.devices().begin(), group.devices().end(), "auto") != group.devices().end();
  }
  const bool no_gpu = std::none_of(pool.devices().begin(), pool.devices().end(),
                                   [](const c10::Device& d) { return d.is_cuda(); });
  return automatic && no_gpu ? " (auto: LibTorch sees no CUDA GPU)" : "";
}

}  // namespace

std::vector<std::string> DeviceNames(const ModelPool& pool) {
  std::vector<std::string> names;
  for (const c10::Device& d : pool.devices()) names.push_back(d.str());
  return names;
}

void LogLoaded(const PendingVersion& p, const ModelVersion& loaded, int64_t ms) {
  const ServableModel& model = loaded.model();
  const std::string display = model.display_name();
  const BatchSchedulerOptions& scheduling = loaded.scheduler().options();
  spdlog::info("{} loaded: {} instance(s) on {}{}, {} classes, input {}, {}, queue {}, {}, {} ms",
               display, model.pool->size(), Join(DeviceNames(*model.pool), ", "),
               AutoNote(p.config, *model.pool), model.pool->num_classes(),
               ShapeToString(model.input_shape),
               scheduling.max_batch_size > 1
                   ? "batches up to " + std::to_string(scheduling.max_batch_size) + " within " +
                         std::to_string(scheduling.max_queue_delay.count()) + " us"
                   : std::string("no batching"),
               scheduling.queue_capacity, model.pool->frozen_note(), ms);
  // Where ABLATION_CAM runs only the network after the layer, and where full forwards (the
  // first few named: densenet121 has 199 such layers; DescribeModel lists them all).
  constexpr int kNamed = 5;
  int split = 0;
  int full = 0;
  std::string refused;
  for (const LayerInfo& layer : model.layers) {
    if (!layer.is_feature_map()) continue;
    if (layer.split_refusal.empty()) {
      ++split;
    } else if (++full <= kNamed) {
      refused += (refused.empty() ? "" : "; ") + layer.path + " (" + layer.split_refusal + ")";
    }
  }
  if (full > kNamed) {
    refused += "; and " + std::to_string(full - kNamed) + " more (DescribeModel's split_refusal)";
  }
  spdlog::info("{}: ABLATION_CAM runs the network after the layer alone at {} feature layers{}",
               display, split,
               full == 0 ? "" : "; full forwards at " + std::to_string(full) + ": " + refused);
  // What CAM requests without layers get, and the layers whose layout stays unresolved.
  int ambiguous = 0;
  for (const LayerInfo& layer : model.layers) {
    ambiguous += layer.layout_note.rfind("ambiguous", 0) == 0;
  }
  if (model.pool->attention_rewrites() > 0) {
    spdlog::info(
        "{}: {} attention layers traced on PyTorch's inference fast path, which has no "
        "gradient, run its differentiable equivalent",
        display, model.pool->attention_rewrites());
  }
  spdlog::info("{}: logits from {}; default CAM layer {}{}{}", display, model.pool->output_note(),
               model.default_cam_layer.empty() ? "none (" + model.default_cam_layer_problem + ")"
                                               : model.default_cam_layer,
               model.recommended_cam_layer.empty() ? "" : " (a transformer's recommended layer)",
               ambiguous == 0 ? ""
                              : "; " + std::to_string(ambiguous) +
                                    " layer(s) with an ambiguous layout (DescribeModel's "
                                    "layout_note)");
}

}  // namespace xai::core
