#include "core/base/quote.h"

#include <cstdint>
#include <cstdio>

namespace xai::core {
namespace {

// The longest prefix of `text` of at most `max_bytes` that ends at a character boundary.
size_t CutPoint(std::string_view text, size_t max_bytes) {
  size_t end = 0;
  while (end < text.size()) {
    const size_t length = Utf8SequenceLength(text.substr(end));
    const size_t step = length == 0 ? 1 : length;
    if (end + step > max_bytes) break;
    end += step;
  }
  return end;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  uint32_t min = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  uint32_t code = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

std::string QuoteInput(std::string_view text, size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  const std::string_view shown = cut ? text.substr(0, CutPoint(text, max_bytes)) : text;
  std::string out = "\"";
  for (size_t i = 0; i < shown.size();) {
    const size_t length = Utf8SequenceLength(shown.substr(i));
    const unsigned char c = static_cast<unsigned char>(shown[i]);
    if (length > 1) {
      out.append(shown.substr(i, length));
      i += length;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (length == 0 || c < 0x20 || c == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  if (cut) return out + "...\" (" + std::to_string(text.size()) + " bytes)";
  return out + "\"";
}

std::string CapMessage(std::string_view message, size_t max_bytes) {
  if (message.size() <= max_bytes) return std::string(message);
  return std::string(message.substr(0, CutPoint(message, max_bytes))) +
         " [... cut: " + std::to_string(message.size()) + " bytes in all]";
}

}  // namespace xai::core
