#include "core/requests/request_util.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/base/quote.h"
#include "core/image/overlay.h"
#include "core/repository/model_config.h"
#include "core/repository/servable_model.h"
#include "core/runtime/feature_layout.h"
#include "core/runtime/input_tensor.h"

namespace xai::core {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Up to five CAM layers of `model` closest to `name`, for error messages.
std::string ClosestCamLayers(const ServableModel& model, const std::string& name) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const LayerInfo& layer : model.layers) {
    if (layer.is_feature_map()) scored.emplace_back(EditDistance(name, layer.path), layer.path);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (size_t i = 0; i < scored.size() && i < 5; ++i) out += (i ? ", " : "") + scored[i].second;
  return out.empty() ? "(none)" : out;
}

}  // namespace

// The model input of a request, from encoded bytes (then with its geometry, and the
// decoded original when `keep_original`) or from a tensor (original left empty).
StatusOr<PreprocessedImage> PrepareInput(const ImageRef& image, const ServableModel& model,
                                         const ImagePreprocessor& preprocessor,
                                         bool keep_original) {
  switch (image.kind) {
    case ImageRef::Kind::kEncoded:
      return preprocessor.Preprocess(image.encoded, model.config.input(), keep_original);
    case ImageRef::Kind::kTensor: {
      XAI_ASSIGN_OR_RETURN(
          at::Tensor input,
          InputFromTensorBytes(image.tensor_shape, image.tensor_data, model.input_shape));
      const int h = static_cast<int>(model.input_shape[1]);
      const int w = static_cast<int>(model.input_shape[2]);
      return PreprocessedImage{input, InputGeometry{w, h, w, h, 0, 0}, cv::Mat()};
    }
    case ImageRef::Kind::kNone:
      break;
  }
  return InvalidArgumentError("image is required: set image.encoded or image.tensor");
}

StatusOr<std::string> RenderOnImage(const std::vector<at::Tensor>& maps, const at::Tensor& input,
                                    const PreprocessedImage& image, const ServableModel& model,
                                    bool model_input_size, const RenderFn& render) {
  try {
    const bool over_input = model_input_size || image.original.empty();
    std::vector<at::Tensor> held;  // the Mats below borrow their memory
    std::vector<cv::Mat> mats;
    for (const at::Tensor& m : maps) {
      held.push_back(m.to(at::kCPU, at::kFloat).contiguous());
      const cv::Mat mat(static_cast<int>(held.back().size(0)),
                        static_cast<int>(held.back().size(1)), CV_32F,
                        held.back().data_ptr<float>());
      mats.push_back(over_input ? mat : CamToOriginal(mat, image.geometry));
    }
    return render(over_input ? InputAsBgr8(input, model) : image.original, mats);
  } catch (const std::exception& e) {
    return InternalError(std::string("overlay rendering failed: ") + e.what());
  }
}

StatusOr<int> BatchSizeField(int batch_size, int default_size, int cap) {
  const int fallback = std::min(default_size, cap);
  if (batch_size < 0 || batch_size > cap) {
    return InvalidArgumentError("batch_size must be in [1, " + std::to_string(cap) + "] (0: " +
                                std::to_string(fallback) + "), got " + std::to_string(batch_size));
  }
  return batch_size == 0 ? fallback : batch_size;
}

Status CheckMetrics(const MetricsRequest& metrics) {
  if (metrics.steps < 0 || metrics.steps > kMaxFaithfulnessSteps) {
    return InvalidArgumentError("metrics.steps must be in [1, " +
                                std::to_string(kMaxFaithfulnessSteps) +
                                "] (0: " + std::to_string(kDefaultFaithfulnessSteps) + "), got " +
                                std::to_string(metrics.steps));
  }
  return OkStatus();
}

FaithfulnessSpec FaithfulnessSpecOf(const MetricsRequest& metrics, int batch_size,
                                    std::function<Status()> interrupted) {
  FaithfulnessSpec spec;
  spec.steps = metrics.steps == 0 ? kDefaultFaithfulnessSteps : metrics.steps;
  spec.random_baseline = metrics.random_baseline;
  spec.batch_size = batch_size;
  spec.interrupted = std::move(interrupted);
  return spec;
}

Status CheckOverlay(const OverlaySpec& overlay) {
  const float w = overlay.image_weight;
  if (!std::isfinite(w) || w < 0 || w > 1) {
    return InvalidArgumentError("overlay.image_weight must be in [0, 1] (unset: 0.5), got " +
                                std::to_string(w));
  }
  if (!ColormapByName(overlay.colormap)) {
    return InvalidArgumentError("overlay.colormap " + QuoteInput(overlay.colormap) +
                                " is not an OpenCV colormap; e.g. jet, turbo, viridis, inferno, "
                                "magma, plasma, hot, bone");
  }
  if (overlay.png_compression < 0 || overlay.png_compression > 9) {
    return InvalidArgumentError("overlay.png_compression must be in [0, 9] (0: 1), got " +
                                std::to_string(overlay.png_compression));
  }
  return OkStatus();
}

at::Tensor InputPixels(const at::Tensor& input, const ServableModel& model) {
  const xai::v1::InputSpec& spec = model.config.input();
  at::Tensor x = input[0].to(at::kCPU, at::kFloat).clone();  // [C,H,W]
  for (int64_t c = 0; c < x.size(0); ++c) {
    if (spec.std_size() > 0) x[c].mul_(spec.std(static_cast<int>(c)));
    if (spec.mean_size() > 0) x[c].add_(spec.mean(static_cast<int>(c)));
  }
  return x;
}

cv::Mat InputAsBgr8(const at::Tensor& input, const ServableModel& model) {
  const xai::v1::InputSpec& spec = model.config.input();
  at::Tensor x = InputPixels(input, model);
  const int64_t channels = x.size(0);
  x = x.clamp(0, 1).mul(255).to(at::kByte).permute({1, 2, 0}).contiguous();  // HWC
  cv::Mat pixels(static_cast<int>(x.size(0)), static_cast<int>(x.size(1)),
                 CV_8UC(static_cast<int>(channels)), x.data_ptr<uint8_t>());
  cv::Mat bgr;
  switch (spec.color_order()) {
    case xai::v1::GRAY:
      cv::cvtColor(pixels, bgr, cv::COLOR_GRAY2BGR);
      break;
    case xai::v1::BGR:
      bgr = pixels.clone();
      break;
    default:
      cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);
      break;
  }
  return bgr;
}

std::vector<LabeledScore> Labeled(const ServableModel& model,
                                  const std::vector<ClassScore>& scores) {
  std::vector<LabeledScore> out;
  out.reserve(scores.size());
  for (const ClassScore& s : scores)
    out.push_back({s.index, model.Label(s.index), s.probability, s.logit});
  return out;
}

FloatTensor ToFloatTensor(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  FloatTensor out;
  out.shape.assign(c.sizes().begin(), c.sizes().end());
  out.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return out;
}

StatusOr<const LayerInfo*> LayerField(const ServableModel& model,
                                      const std::vector<std::string>& layers, size_t i) {
  const std::string& path = layers[i];
  const std::string field = "layers[" + std::to_string(i) + "] " + QuoteInput(path);
  if (!IsValidModulePath(path)) {
    return InvalidArgumentError(field +
                                " is not a module path like \"layer4\" or \"features.7.0\"");
  }
  const LayerInfo* layer = model.FindLayer(path);
  if (layer == nullptr) {
    return InvalidArgumentError(field + " is not a module of " + model.display_name() +
                                "; closest CAM layers: " + ClosestCamLayers(model, path));
  }
  if (std::find(layers.begin(), layers.begin() + i, path) != layers.begin() + i) {
    return InvalidArgumentError(field + " is repeated");
  }
  return layer;
}

StatusOr<const LayerInfo*> FeatureLayerField(const ServableModel& model,
                                             const std::vector<std::string>& layers, size_t i) {
  XAI_ASSIGN_OR_RETURN(const LayerInfo* layer, LayerField(model, layers, i));
  if (!layer->is_feature_map()) {
    return InvalidArgumentError("layers[" + std::to_string(i) +
                                "]: " + UnresolvedLayoutMessage(*layer) +
                                "; closest CAM layers: " + ClosestCamLayers(model, layer->path));
  }
  return layer;
}

Status CheckTargetClasses(const std::vector<int>& targets, const ServableModel& model,
                          const RequestEnvironment& environment) {
  if (static_cast<int>(targets.size()) > environment.max_targets) {
    return InvalidArgumentError("target_classes has " + std::to_string(targets.size()) +
                                " entries; at most " + std::to_string(environment.max_targets));
  }
  const int64_t classes = model.pool->num_classes();
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0 || targets[i] >= classes) {
      return InvalidArgumentError("target_classes[" + std::to_string(i) +
                                  "] = " + std::to_string(targets[i]) + " is out of range [0, " +
                                  std::to_string(classes) + ")");
    }
  }
  return OkStatus();
}

}  // namespace xai::core
