#include "core/methods/attribution/sampling.h"

#include <ATen/ATen.h>

#include <cmath>
#include <random>

namespace xai::core {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::mt19937_64 Generator(uint64_t seed, int64_t sample, DrawStream stream) {
  const uint64_t key = SplitMix64(SplitMix64(seed) ^ SplitMix64(static_cast<uint64_t>(sample)) ^
                                  (static_cast<uint64_t>(stream) << 56));
  return std::mt19937_64(key);
}

// (0, 1]: never 0, for the logarithm.
double OpenUniform(std::mt19937_64& generator) {
  return (static_cast<double>(generator() >> 11) + 1.0) * 0x1.0p-53;
}

}  // namespace

at::Tensor NormalNoise(const at::Tensor& like, uint64_t seed, int64_t sample) {
  std::mt19937_64 generator = Generator(seed, sample, DrawStream::kNoise);
  at::Tensor noise = at::empty(like.sizes(), at::TensorOptions().dtype(at::kFloat));
  float* n = noise.data_ptr<float>();
  const int64_t count = noise.numel();
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (int64_t i = 0; i < count; i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(OpenUniform(generator)));
    const double angle = kTwoPi * OpenUniform(generator);
    n[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < count) n[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
  return noise;
}

at::Tensor NoisyCopy(const at::Tensor& x, double sigma, uint64_t seed, int64_t sample) {
  if (sigma == 0) return x;
  return x + NormalNoise(x, seed, sample).to(x.device()) * sigma;
}

double UniformDraw(uint64_t seed, int64_t sample, DrawStream stream) {
  std::mt19937_64 generator = Generator(seed, sample, stream);
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

}  // namespace xai::core
