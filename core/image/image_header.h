// Reads an encoded image's dimensions from its header without decoding it, so that an
// oversized image is refused before any pixel memory is allocated.
#ifndef XAI_CORE_IMAGE_IMAGE_HEADER_H_
#define XAI_CORE_IMAGE_IMAGE_HEADER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xai::core {

struct ImageHeader {
  std::string format;  // "png", "jpeg", "bmp", "webp", "tiff", "pnm"
  int64_t width = 0;
  int64_t height = 0;
};

// The format and size from the header of PNG, JPEG, BMP, WebP, TIFF and PNM bytes.
// nullopt when the bytes are none of these or the header is truncated or malformed.
// Accepts only what OpenCV's decoder for the same format claims, so that imdecode never
// passes the bytes on to another decoder.
std::optional<ImageHeader> ReadImageHeader(std::string_view bytes);

// What a format OpenCV would hand to a file-based parser (GDCM's DICOM, GDAL's DTED) is
// found in the bytes, e.g. "DICOM signature at byte 128"; nullopt when none is. Such bytes
// are refused whatever their header says (the image fuzzer's find: a WebP header with
// "DICM" at byte 128 reached GDCM, which aborted the process).
std::optional<std::string> ForeignSignature(std::string_view bytes);

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_IMAGE_HEADER_H_
