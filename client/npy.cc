#include "client/npy.h"

#include <fstream>

namespace xai::client {

namespace {

// Python's repr of a tuple of ints: "()", "(5,)", "(224, 224)".
std::string ShapeTuple(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

bool NpyFloat32(const std::string& path, const std::vector<int64_t>& shape,
                std::string_view little_endian_floats, std::string* out, std::string* error) {
  uint64_t elements = 1;
  for (const int64_t d : shape) {
    // The bound keeps the byte count below from overflowing.
    if (d < 0 || (d > 0 && elements > UINT64_MAX / sizeof(float) / static_cast<uint64_t>(d))) {
      *error = path + ": invalid shape " + ShapeTuple(shape);
      return false;
    }
    elements *= static_cast<uint64_t>(d);
  }
  if (little_endian_floats.size() != elements * sizeof(float)) {
    *error = path + ": shape " + ShapeTuple(shape) + " needs " +
             std::to_string(elements * sizeof(float)) + " bytes of float32, got " +
             std::to_string(little_endian_floats.size());
    return false;
  }

  // Version 1.0: magic, major, minor, a little-endian uint16 header length, then a dict
  // literal padded with spaces and ended by '\n' so that the data starts at a multiple of
  // 64 bytes, as NumPy itself writes it (some readers memory-map the data and rely on it).
  constexpr char kMagic[] = "\x93NUMPY\x01\x00";
  constexpr size_t kPrefixSize = sizeof(kMagic) - 1 + 2;
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + ShapeTuple(shape) + ", }";
  const size_t unpadded = kPrefixSize + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  const size_t header_size = dict.size();
  if (header_size > 0xffff) {
    *error = path + ": shape of " + std::to_string(shape.size()) +
             " dimensions is too long for .npy 1.0";
    return false;
  }

  out->clear();
  out->reserve(kPrefixSize + header_size + little_endian_floats.size());
  out->append(kMagic, sizeof(kMagic) - 1);
  out->push_back(static_cast<char>(header_size & 0xff));
  out->push_back(static_cast<char>(header_size >> 8));
  out->append(dict);
  out->append(little_endian_floats);
  return true;
}

bool WriteNpyFloat32(const std::string& path, const std::vector<int64_t>& shape,
                     std::string_view little_endian_floats, std::string* error) {
  std::string bytes;
  if (!NpyFloat32(path, shape, little_endian_floats, &bytes, error)) return false;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace xai::client
