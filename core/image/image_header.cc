#include "core/image/image_header.h"

#include <webp/decode.h>

#include <cctype>
#include <cstdlib>

namespace xai::core {
namespace {

uint32_t Byte(std::string_view b, size_t i) { return static_cast<unsigned char>(b[i]); }
uint32_t Be16(std::string_view b, size_t i) { return Byte(b, i) << 8 | Byte(b, i + 1); }
uint32_t Le16(std::string_view b, size_t i) { return Byte(b, i) | Byte(b, i + 1) << 8; }
uint32_t Be32(std::string_view b, size_t i) { return Be16(b, i) << 16 | Be16(b, i + 2); }
uint32_t Le32(std::string_view b, size_t i) { return Le16(b, i) | Le16(b, i + 2) << 16; }

std::optional<ImageHeader> Png(std::string_view b) {
  if (b.size() < 24 || b.substr(0, 8) != std::string_view("\x89PNG\r\n\x1a\n", 8) ||
      b.substr(12, 4) != "IHDR") {
    return std::nullopt;
  }
  return ImageHeader{"png", Be32(b, 16), Be32(b, 20)};
}

std::optional<ImageHeader> Jpeg(std::string_view b) {
  if (b.size() < 4 || Byte(b, 0) != 0xFF || Byte(b, 1) != 0xD8) return std::nullopt;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (Byte(b, pos) != 0xFF) return std::nullopt;
    const uint32_t marker = Byte(b, pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length field
      pos += 2;
      continue;
    }
    const bool start_of_frame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (start_of_frame) {
      if (pos + 9 > b.size()) return std::nullopt;
      return ImageHeader{"jpeg", Be16(b, pos + 7), Be16(b, pos + 5)};
    }
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // scan before any frame
    pos += 2 + Be16(b, pos + 2);
  }
  return std::nullopt;
}

std::optional<ImageHeader> Bmp(std::string_view b) {
  if (b.size() < 26 || b.substr(0, 2) != "BM") return std::nullopt;
  const uint32_t dib_size = Le32(b, 14);
  if (dib_size == 12) return ImageHeader{"bmp", Le16(b, 18), Le16(b, 20)};
  const auto height = static_cast<int32_t>(Le32(b, 22));  // negative: top-down rows
  return ImageHeader{"bmp", static_cast<int32_t>(Le32(b, 18)), std::llabs(height)};
}

// OpenCV's WebP decoder claims a buffer only when libwebp reads its first 32 bytes as a
// WebP header; anything less and OpenCV would try its later decoders instead. The same call
// here keeps the two in agreement, and gives the size.
std::optional<ImageHeader> Webp(std::string_view b) {
  constexpr size_t kOpenCvWebpHeader = 32;
  if (b.size() < kOpenCvWebpHeader || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WEBP") {
    return std::nullopt;
  }
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(reinterpret_cast<const uint8_t*>(b.data()), kOpenCvWebpHeader, &features) !=
      VP8_STATUS_OK) {
    return std::nullopt;
  }
  return ImageHeader{"webp", features.width, features.height};
}

std::optional<ImageHeader> Tiff(std::string_view b) {
  if (b.size() < 8) return std::nullopt;
  const bool little = b.substr(0, 4) == std::string_view("II*\0", 4);
  const bool big = b.substr(0, 4) == std::string_view("MM\0*", 4);
  if (!little && !big) return std::nullopt;
  auto u16 = [&](size_t i) { return little ? Le16(b, i) : Be16(b, i); };
  auto u32 = [&](size_t i) { return little ? Le32(b, i) : Be32(b, i); };
  const size_t ifd = u32(4);
  if (ifd + 2 > b.size()) return std::nullopt;
  const uint32_t entries = u16(ifd);
  int64_t width = -1;
  int64_t height = -1;
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t at = ifd + 2 + 12 * static_cast<size_t>(e);
    if (at + 12 > b.size()) return std::nullopt;
    const uint32_t tag = u16(at);
    const uint32_t type = u16(at + 2);
    const int64_t value = type == 3 ? u16(at + 8) : type == 4 ? u32(at + 8) : -1;
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  if (width < 0 || height < 0) return std::nullopt;
  return ImageHeader{"tiff", width, height};
}

std::optional<ImageHeader> Pnm(std::string_view b) {
  // OpenCV's PxM decoder wants white space after the magic number, as the format does.
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6' ||
      !std::isspace(static_cast<unsigned char>(b[2]))) {
    return std::nullopt;
  }
  size_t pos = 2;
  int64_t dims[2];
  for (int64_t& dim : dims) {
    while (pos < b.size() && (std::isspace(static_cast<unsigned char>(b[pos])) || b[pos] == '#')) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n') ++pos;
      } else {
        ++pos;
      }
    }
    const size_t start = pos;
    dim = 0;
    while (pos < b.size() && std::isdigit(static_cast<unsigned char>(b[pos])) && pos - start < 9) {
      dim = dim * 10 + (b[pos++] - '0');
    }
    if (pos == start) return std::nullopt;
  }
  return ImageHeader{"pnm", dims[0], dims[1]};
}

}  // namespace

std::optional<ImageHeader> ReadImageHeader(std::string_view bytes) {
  for (auto reader : {Png, Jpeg, Bmp, Webp, Tiff, Pnm}) {
    if (auto header = reader(bytes)) return header;
  }
  return std::nullopt;
}

std::optional<std::string> ForeignSignature(std::string_view bytes) {
  // OpenCV's decoders that look past the first bytes, and read files, not memory: OpenCV
  // writes the caller's bytes to a temporary file and hands it to GDCM or GDAL, whose
  // parsers assert and abort on malformed input.
  struct Signature {
    size_t at;
    std::string_view magic;
    const char* name;
  };
  for (const Signature& s : {Signature{128, "DICM", "DICOM"}, Signature{140, "DTED", "DTED"}}) {
    if (bytes.size() >= s.at + s.magic.size() && bytes.substr(s.at, s.magic.size()) == s.magic) {
      return std::string(s.name) + " signature at byte " + std::to_string(s.at);
    }
  }
  return std::nullopt;
}

}  // namespace xai::core
