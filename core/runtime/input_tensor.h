// Validation of an already preprocessed input tensor sent on the wire.
#ifndef XAI_CORE_RUNTIME_INPUT_TENSOR_H_
#define XAI_CORE_RUNTIME_INPUT_TENSOR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace xai::core {

// Builds a [1,C,H,W] float32 CPU tensor (owning its data) from `shape` ([C,H,W] or
// [1,C,H,W]) and `data` (row-major little-endian float32), which must match
// `expected_chw` exactly and hold only finite values.
// Errors: INVALID_ARGUMENT naming image.tensor.shape or image.tensor.data.
StatusOr<at::Tensor> InputFromTensorBytes(const std::vector<int64_t>& shape, std::string_view data,
                                          const std::vector<int64_t>& expected_chw);

// "[1, 3, 224, 224]"
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_INPUT_TENSOR_H_
