// Joining strings for messages, log lines and metric labels, and times as text. The C++
// standard library only.
#ifndef XAI_CORE_BASE_STRINGS_H_
#define XAI_CORE_BASE_STRINGS_H_

#include <chrono>
#include <cstdio>
#include <ctime>
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

// `time` as ISO 8601 in UTC with milliseconds, "2026-11-27T10:00:00.123Z" (sortable as
// text): the JSON logs' times and `xai batch`'s index lines.
inline std::string IsoTime(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  return out;
}

}  // namespace xai::core

#endif  // XAI_CORE_BASE_STRINGS_H_
