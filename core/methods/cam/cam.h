// Class activation maps from a layer's activations and gradients, with the numerics of
// pytorch-grad-cam 1.5 (weights, weighted sum, ReLU, min-max scaling, OpenCV-convention
// bilinear resize, multi-layer mean).
#ifndef XAI_CORE_METHODS_CAM_CAM_H_
#define XAI_CORE_METHODS_CAM_CAM_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/runtime/layer_info.h"

namespace xai::core {

// The [B, C, H, W] view of a layer's output `a` ([B, ...]) in `layout`, as
// pytorch-grad-cam's reshape_transform gives it: NCHW as it is; NHWC permuted; TOKENS
// without the prefix tokens, the grid tokens (row-major) reshaped. Shares storage with `a`
// where it can. Throws (c10::Error) when `a`'s shape does not fit `layout`.
at::Tensor FeatureMapView(const at::Tensor& a, const LayerLayout& layout);

// The inverse, for perturbed feature maps `maps` [n, C, H, W] of one sample: the layer's
// own layout, [n, ...]; for TOKENS with the prefix tokens of `original` (the sample's
// unperturbed output, [1, tokens, C]) unchanged.
at::Tensor FromFeatureMapView(const at::Tensor& maps, const LayerLayout& layout,
                              const at::Tensor& original);

// Each function takes one map, [h,w], or a batch of maps, [...,h,w], each treated alone.

// scale_cam_image: subtract the minimum, divide by (1e-7 + the new maximum), then, when
// height and width are > 0, resize [h,w] -> [height,width] bilinearly with pixel centres
// aligned as OpenCV's cv::resize (INTER_LINEAR) does.
at::Tensor ScaleCam(const at::Tensor& map, int64_t height = 0, int64_t width = 0);

// get_2d_projection: the projection of activations [K,h,w] (or [B,K,h,w]) on their first
// principal component, [h,w] (or [B,h,w]): NaN set to 0, reshaped to M = [h*w, K], each
// column centred, SVD M = U S V^T, M v_1. An SVD's sign is arbitrary (LAPACK's choice in
// the reference): the projection is oriented so that its value of largest magnitude is
// positive.
at::Tensor FirstComponentProjection(const at::Tensor& activations);

// Bilinear resize of a [h,w] float map with OpenCV's pixel-centre convention.
at::Tensor ResizeBilinear(const at::Tensor& map, int64_t height, int64_t width);

// The final [height,width] map from the per-layer maps after ReLU (each [h_i,w_i], or
// [B,h_i,w_i] for B maps at once):
// each scaled and resized to the input, then ReLU, mean over layers, scaled again.
at::Tensor CombineLayerMaps(const std::vector<at::Tensor>& relu_maps, int64_t height,
                            int64_t width);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_CAM_CAM_H_
