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
// - perturbation (PerturbationCamMethod): channel weights from the target's score on many
//   perturbed forwards (ScoreCAM, AblationCAM), drawn in batches.
// Implementations are stateless and thread safe.
#ifndef XAI_CORE_METHODS_CAM_CAM_METHODS_H_
#define XAI_CORE_METHODS_CAM_CAM_METHODS_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string_view>

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

class PerturbationCamMethod : public CamMethodImpl {
 public:
  CamFamily family() const final { return CamFamily::kPerturbation; }
  // The target's scores ([N]) for N perturbations of one sample ([N,...] as the method
  // builds them); the runner batches the forwards and spends the request's compute budget.
  using ScoreFn = std::function<at::Tensor(const at::Tensor& perturbations)>;
  // Channel weights [K] of activations `a` ([K,h,w]) for the target that `score` scores.
  virtual at::Tensor Weights(const at::Tensor& a, const ScoreFn& score) const = 0;
};

// One row of the table.
struct CamMethodRow {
  CamMethod method;
  std::string_view name;  // as in xai.v1.CamMethod
  CamFamily family;
  const CamMethodImpl* impl;  // null: not served yet (UNIMPLEMENTED)
};

// The row of `method`, or null when the table has none.
const CamMethodRow* FindCamMethod(CamMethod method);

// The implementation of a served gradient-weighted or activation-only method, or null.
const MapCamMethod* FindMapCamMethod(CamMethod method);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_CAM_METHODS_H_
