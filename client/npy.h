// NumPy .npy files (format version 1.0) written without NumPy.
#ifndef XAI_CLIENT_NPY_H_
#define XAI_CLIENT_NPY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xai::client {

// Writes `path` as a C-order float32 array of `shape` that numpy.load reads back.
// `little_endian_floats` is the array's data as is, 4 bytes per element, little-endian (the
// layout of an xai.v1.Tensor's data); its size must be 4 * the product of `shape`, every
// dimension >= 0. On failure (bad size, unwritable file) returns false and sets `error`.
bool WriteNpyFloat32(const std::string& path, const std::vector<int64_t>& shape,
                     std::string_view little_endian_floats, std::string* error);

// The same file's bytes, in `out`; `name` only names it in `error`.
bool NpyFloat32(const std::string& name, const std::vector<int64_t>& shape,
                std::string_view little_endian_floats, std::string* out, std::string* error);

}  // namespace xai::client

#endif  // XAI_CLIENT_NPY_H_
