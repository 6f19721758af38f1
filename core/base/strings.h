// Joining strings for messages, log lines and metric labels. The C++ standard library only.
#ifndef XAI_CORE_BASE_STRINGS_H_
#define XAI_CORE_BASE_STRINGS_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace xai::core {

// `parts` with `separator` between each two: Join({"a", "b"}, ", ") is "a, b".
inline std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// `value` with `digits` significant digits, as printf's %g: "0.0003142", "12.35", "1.2e+05".
inline std::string FormatSignificant(double value, int digits = 4) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*g", digits, value);
  return text;
}

}  // namespace xai::core

#endif  // XAI_CORE_BASE_STRINGS_H_
