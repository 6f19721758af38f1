// Repeatable random draws for the sampled attribution methods: every draw is a function of
// (seed, sample, stream) only, through std::mt19937_64 seeded by SplitMix64, so that an
// answer depends neither on the batch size, the device nor the LibTorch version.
#ifndef XAI_CORE_METHODS_ATTRIBUTION_SAMPLING_H_
#define XAI_CORE_METHODS_ATTRIBUTION_SAMPLING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace xai::core {

// What a draw is for: separate streams, so that adding noise changes no other draw.
enum class DrawStream : uint64_t { kNoise = 1, kAlpha = 2, kBaseline = 3 };

// Standard normal values of `like`'s shape (float32, CPU) for `sample`, by Box-Muller.
at::Tensor NormalNoise(const at::Tensor& like, uint64_t seed, int64_t sample);
// `x` plus Gaussian noise of standard deviation `sigma` drawn for `sample` (NormalNoise),
// on `x`'s device; `x` itself when `sigma` is 0.
at::Tensor NoisyCopy(const at::Tensor& x, double sigma, uint64_t seed, int64_t sample);
// A uniform value in [0, 1) for `sample` (53 random bits).
double UniformDraw(uint64_t seed, int64_t sample, DrawStream stream);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_ATTRIBUTION_SAMPLING_H_
