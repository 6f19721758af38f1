#include "core/runtime/input_tensor.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

namespace xai::core {

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

StatusOr<at::Tensor> InputFromTensorBytes(const std::vector<int64_t>& shape, std::string_view data,
                                          const std::vector<int64_t>& expected_chw) {
  std::vector<int64_t> chw = shape;
  if (chw.size() == 4 && chw[0] == 1) chw.erase(chw.begin());
  if (chw != expected_chw) {
    return InvalidArgumentError("image.tensor.shape must be " + ShapeToString(expected_chw) +
                                " or [1, ...] of it for this model, got " + ShapeToString(shape));
  }
  const int64_t count = expected_chw[0] * expected_chw[1] * expected_chw[2];
  const uint64_t expected_bytes = static_cast<uint64_t>(count) * sizeof(float);
  if (data.size() != expected_bytes) {
    return InvalidArgumentError("image.tensor.data has " + std::to_string(data.size()) +
                                " bytes, expected " + std::to_string(expected_bytes) +
                                " (float32, little-endian, for shape " + ShapeToString(shape) +
                                ")");
  }
  static_assert(sizeof(float) == 4, "float32 wire format");
  at::Tensor tensor = at::empty({1, expected_chw[0], expected_chw[1], expected_chw[2]}, at::kFloat);
  float* values = tensor.data_ptr<float>();
  std::memcpy(values, data.data(), expected_bytes);  // x86-64 and arm64 are little-endian
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) {
      return InvalidArgumentError("image.tensor.data must be finite, element " + std::to_string(i) +
                                  " is " + (std::isnan(values[i]) ? "NaN" : "infinite"));
    }
  }
  return tensor;
}

}  // namespace xai::core
