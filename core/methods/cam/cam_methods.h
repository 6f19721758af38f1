// The CAM method table: one row per xai.v1.CamMethod, in one place (cam_methods.cc), each
// with its family and, when served, its implementation. A method is one file that defines
// its implementation and one row in the table. The table is explicit, not built by
// self-registering statics, which a static library's linker would drop.
//
// Families, each run its own way by the request code:
// - gradient-weighted (GradientCamMethod): one forward with the layers captured and, per
//   target, one backward to them; the method turns activations and gradients into a map
//   (core/methods/cam/grad_cam.h runs them, batched);
// - activation-only (ActivationCamMethod): the map from the activations alone, with or
//   without gradients (EigenCAM, EigenGradCAM);
// - perturbation (PerturbationCamMethod): channel weights from the targets' scores on many
//   perturbed forwards (ScoreCAM, AblationCAM), drawn in batches
//   (core/methods/cam/perturbation_cam.h runs them).
// Implementations are stateless and thread safe.
#ifndef XAI_CORE_METHODS_CAM_CAM_METHODS_H_
#define XAI_CORE_METHODS_CAM_CAM_METHODS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/methods/cam/cam_method.h"

namespace xai::core {

class CamMethodImpl {
 public:
  virtual ~CamMethodImpl() = default;
  virtual CamFamily family() const = 0;
};

// A method whose map comes from one forward's activations and, when it needs them, their
// gradients: the gradient-weighted and the activation-only families, which share a runner
// (core/methods/cam/grad_cam.h).
class MapCamMethod : public CamMethodImpl {
 public:
  // Whether Map reads the gradients: when not, no backward runs and the map is the same
  // for every target.
  virtual bool needs_gradients() const = 0;
  // The map before ReLU, [h,w] float32, of activations `a` ([K,h,w]) and, when
  // needs_gradients(), their gradients `g` (else undefined); with leading batch
  // dimensions ([B,K,h,w]) one map per sample ([B,h,w]), each equal to the sample's map
  // alone.
  virtual at::Tensor Map(const at::Tensor& a, const at::Tensor& g) const = 0;
};

class GradientCamMethod : public MapCamMethod {
 public:
  CamFamily family() const final { return CamFamily::kGradientWeighted; }
  bool needs_gradients() const final { return true; }
  // The weighted activations, [...,K,h,w]: each channel times its weight (or, for
  // HiResCAM and LayerCAM, element by element by the gradients).
  virtual at::Tensor Weighted(const at::Tensor& a, const at::Tensor& g) const = 0;
  // Their sum over channels: the map.
  at::Tensor Map(const at::Tensor& a, const at::Tensor& g) const final {
    return Weighted(a, g).sum(-3);
  }
};

class ActivationCamMethod : public MapCamMethod {
 public:
  CamFamily family() const final { return CamFamily::kActivationOnly; }
};

// A method whose channel weights come from the target's scores on perturbed forwards,
// one per channel of the layer (ScoreCAM, AblationCAM); the runner
// (core/methods/cam/perturbation_cam.h) draws them in batches, once for all targets.
class PerturbationCamMethod : public CamMethodImpl {
 public:
  CamFamily family() const final { return CamFamily::kPerturbation; }

  // What a perturbation replaces: the model's input (each forwarded through the whole
  // network) or the layer's output (each forwarded through the network after the layer).
  enum class Site { kInput, kLayerOutput };
  virtual Site site() const = 0;

  // Representatives()[k] for a channel whose perturbation leaves everything as it is.
  static constexpr int64_t kUnchanged = -1;
  // For each channel k of activations `a` ([K,h,w], float32): the first channel whose
  // perturbation is identical to k's (k itself when none before it), or kUnchanged when
  // k's perturbation changes nothing (its scores are the unperturbed ones). The runner
  // forwards each representative once.
  virtual std::vector<int64_t> Representatives(const at::Tensor& a) const = 0;

  // The perturbations of `channels` (int64 [n]) for one sample: its input `x` ([1,C,H,W])
  // and its activations `a` ([K,h,w], float32, on x's device). [n,C,H,W] inputs in x's
  // dtype (kInput) or [n,K,h,w] layer outputs (kLayerOutput).
  virtual at::Tensor Perturb(const at::Tensor& x, const at::Tensor& a,
                             const at::Tensor& channels) const = 0;

  // The channel weights [T,K] from every channel's target scores [K,T] (logits) and the
  // unperturbed ones [T].
  virtual at::Tensor Weights(const at::Tensor& scores, const at::Tensor& unperturbed) const = 0;
};

// One row of the table.
struct CamMethodRow {
  CamMethod method;
  std::string_view name;   // as in xai.v1.CamMethod
  std::string_view title;  // as the literature writes it ("Grad-CAM")
  CamFamily family;
  const CamMethodImpl* impl;  // null: not served yet (UNIMPLEMENTED)
  std::string_view legend;    // what its overlay shows, for a person (MethodInfo.legend)
};

// The row of `method`, or null when the table has none.
const CamMethodRow* FindCamMethod(CamMethod method);

// The implementation of a served gradient-weighted or activation-only method, or null.
const MapCamMethod* FindMapCamMethod(CamMethod method);

// The implementation of a served perturbation method, or null.
const PerturbationCamMethod* FindPerturbationCamMethod(CamMethod method);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_CAM_METHODS_H_
