// Pieces several request types share: the model input from a request's image, scores
// with labels, tensors for the result, and the check of a requested layer. Included by
// request files only (LibTorch, OpenCV).
#ifndef XAI_CORE_REQUESTS_REQUEST_UTIL_H_
#define XAI_CORE_REQUESTS_REQUEST_UTIL_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/image/image_preprocessor.h"
#include "core/methods/classifier.h"
#include "core/methods/faithfulness/faithfulness.h"
#include "core/requests/request_types.h"
#include "core/runtime/layer_info.h"

namespace xai::core {

struct ServableModel;

// The model input of a request, from encoded bytes (then with its geometry, and the
// decoded original when `keep_original`) or from a tensor (original left empty).
StatusOr<PreprocessedImage> PrepareInput(const ImageRef& image, const ServableModel& model,
                                         const ImagePreprocessor& preprocessor, bool keep_original);

// The model input ([1,C,H,W]) back in pixel units: [C,H,W] float, x * std + mean per
// channel (not clamped).
at::Tensor InputPixels(const at::Tensor& input, const ServableModel& model);

// The model input ([1,C,H,W]) as an 8-bit BGR picture: mean and std undone, clamped to [0,1].
cv::Mat InputAsBgr8(const at::Tensor& input, const ServableModel& model);

// Draws `maps` ([H,W] float at the model's input) with `render` over the original image,
// each map taken back through the preprocessing (CamToOriginal), or over the model's input
// when `model_input_size` or when there is no original (tensor input). INTERNAL when
// OpenCV fails.
using RenderFn = std::function<StatusOr<std::string>(const cv::Mat& image_bgr,
                                                     const std::vector<cv::Mat>& maps)>;
StatusOr<std::string> RenderOnImage(const std::vector<at::Tensor>& maps, const at::Tensor& input,
                                    const PreprocessedImage& image, const ServableModel& model,
                                    bool model_input_size, const RenderFn& render);

// OverlaySpec's common fields (image_weight, colormap, png_compression): INVALID_ARGUMENT
// naming the field.
Status CheckOverlay(const OverlaySpec& overlay);

// A request's batch_size: 0 gives min(default, the server's cap); INVALID_ARGUMENT naming
// the field outside [0, cap].
StatusOr<int> BatchSizeField(int batch_size, int default_size, int cap);

// The metrics option: INVALID_ARGUMENT naming metrics.steps outside [0, 256].
Status CheckMetrics(const MetricsRequest& metrics);

// What ScoreMaps runs for a request's (checked) metrics option: its steps (0: the default),
// its random baseline, `batch_size` perturbed inputs per forward, stopped by `interrupted`.
FaithfulnessSpec FaithfulnessSpecOf(const MetricsRequest& metrics, int batch_size,
                                    std::function<Status()> interrupted);

// `scores` with the model's labels.
std::vector<LabeledScore> Labeled(const ServableModel& model,
                                  const std::vector<ClassScore>& scores);

FloatTensor ToFloatTensor(const at::Tensor& t);

// INVALID_ARGUMENT naming target_classes when there are more than environment.max_targets
// or one is outside [0, model's classes).
Status CheckTargetClasses(const std::vector<int>& targets, const ServableModel& model,
                          const RequestEnvironment& environment);

// layers[i] of a request, checked: a module path of `model`, not repeated.
// INVALID_ARGUMENT naming the field, with the closest CAM layers.
StatusOr<const LayerInfo*> LayerField(const ServableModel& model,
                                      const std::vector<std::string>& layers, size_t i);

// The same, and a CAM layer: its output's layout is resolved (LayerInfo::layout); else
// INVALID_ARGUMENT with the layer, its shape, why, and the config field that resolves an
// ambiguous one.
StatusOr<const LayerInfo*> FeatureLayerField(const ServableModel& model,
                                             const std::vector<std::string>& layers, size_t i);

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_REQUEST_UTIL_H_
