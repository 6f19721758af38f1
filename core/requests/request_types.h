// The plain types every request shares (which model, which image, scored classes, dense
// tensors) and what request code gets from the Explainer. No LibTorch, no OpenCV: the
// facade and the adapters include it.
#ifndef XAI_CORE_REQUESTS_REQUEST_TYPES_H_
#define XAI_CORE_REQUESTS_REQUEST_TYPES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/requests/request_context.h"

namespace xai::core {

class ComputePool;
class ImagePreprocessor;
class ModelVersion;

struct ModelRef {
  std::string name;
  int64_t version = 0;  // 0: newest ready
};

// xai.v1.AttributionStyle: Attribute's drawing of an attribution; numbers off the wire.
struct AttributionStyleSpec {
  bool set = false;  // any field given (GradCAM refuses it)
  int polarity = 0;  // AttributionPolarity
  float clip_upper_percentile = 99.9f;
  float clip_lower_percentile = 0;
  int kind = 0;                      // AttributionOverlayKind
  std::vector<float> xrai_outlines;  // empty: 10, 20, 30
};

struct OverlaySpec {
  bool enabled = false;
  float image_weight = 0.5f;      // the image's share, in [0,1]; 0: the heatmap alone
  bool model_input_size = false;  // draw over the model's input instead of the original
  std::string colormap;           // OpenCV colormap name; "": jet (BOTH: blue-white-red)
  int png_compression = 0;        // 1-9; 0: 1
  AttributionStyleSpec attribution;
  int scale = 0;        // xai.v1.OverlayScale (GradCAM only)
  float scale_max = 0;  // SCALE_FIXED's full strength, in raw units
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

struct LabeledScore {
  int index = 0;
  std::string label;
  float probability = 0;
  float logit = 0;
};

// A dense float32 tensor, row-major.
struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

inline constexpr int kDefaultTopK = 5;

// Answers a request exactly once.
template <typename T>
using RequestCallback = std::function<void(StatusOr<T>)>;

// The version a request names, ready to queue on; the Explainer's lookup (which refuses
// once it is shutting down).
using ServingFn = std::function<StatusOr<std::shared_ptr<ModelVersion>>(const ModelRef&)>;

// What request code may use besides the request and its model: owned by the Explainer,
// which outlives every request it queued.
struct RequestEnvironment {
  const ImagePreprocessor* preprocessor = nullptr;
  ComputePool* compute = nullptr;    // helpers for a request's independent items
  int max_targets = 64;              // target classes of one GradCAM request
  int max_cam_layers = 16;           // layers of one GradCAM request
  int max_perturbation_batch = 256;  // GradCAM batch_size: perturbed forwards per batch
  int max_attribution_batch = 128;   // Attribute batch_size: points per forward and backward
  int max_attribution_steps = 1024;  // Attribute steps
};

}  // namespace xai::core

#endif  // XAI_CORE_REQUESTS_REQUEST_TYPES_H_
