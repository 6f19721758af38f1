// Terminal output of the xai CLI: aligned tables and a progress bar.
#ifndef XAI_CLIENT_OUTPUT_H_
#define XAI_CLIENT_OUTPUT_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/base/strings.h"

namespace xai::client {

// Prints `rows` under `header` with columns padded to their widest cell.
void PrintTable(std::FILE* out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// A one-line progress bar on stderr with the rate and the time left, drawn only when stderr
// is a terminal and the job has more than one step.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  ~ProgressBar();  // Finish()
  // Ends the bar's line (once), before what is printed next.
  void Finish();
  // One step done; `note` ("2 failed") goes before the item's name.
  void Step(const std::string& item, const std::string& note = "");
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// "1h02m", "3m05s", "42s", "0.4s".
std::string FormatDuration(double seconds);

// `text` after `label` on lines of at most `width` columns, the continuation lines indented
// under the text's start; ends with a newline.
std::string Wrapped(const std::string& label, const std::string& text, size_t width = 92);

// `value` with `precision` digits after the point.
std::string FormatFloat(double value, int precision);
// `value` with `digits` significant digits ("0.0003142", "12.35", "1.2e+05").
using xai::core::FormatSignificant;

}  // namespace xai::client

#endif  // XAI_CLIENT_OUTPUT_H_
