#include "client/output.h"

#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace xai::client {

void PrintTable(std::FILE* out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), enabled_(total > 1 && isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Finish() {
  if (enabled_ && done_ > 0) std::fprintf(stderr, "\n");
  enabled_ = false;
}

void ProgressBar::Step(const std::string& item, const std::string& note) {
  ++done_;
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? static_cast<int>(done_ * kWidth / total_) : kWidth;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string rate;
  if (seconds > 0.5) {
    const double per_second = static_cast<double>(done_) / seconds;
    rate = " " + FormatSignificant(per_second, 3) + "/s ETA " +
           FormatDuration(static_cast<double>(total_ - done_) / per_second);
  }
  std::string shown = item.size() > 40 ? "..." + item.substr(item.size() - 37) : item;
  std::fprintf(stderr, "\r%s [%s%s] %lld/%lld%s %s%-40s", label_.c_str(),
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), rate.c_str(),
               note.empty() ? "" : (note + " ").c_str(), shown.c_str());
  std::fflush(stderr);
}

std::string FormatDuration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (seconds < 9.95) {
    std::snprintf(text, sizeof(text), "%.1fs", seconds);
  } else if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", s / 3600, s / 60 % 60);
  } else if (s >= 60) {
    std::snprintf(text, sizeof(text), "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(text, sizeof(text), "%llds", s);
  }
  return text;
}

std::string FormatFloat(double value, int precision) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << value;
  return out.str();
}

std::string Wrapped(const std::string& label, const std::string& text, size_t width) {
  const std::string indent(label.size(), ' ');
  std::string out = label, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && label.size() + line.size() + 1 + word.size() > width) {
      out += line + "\n" + indent;
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return out + line + "\n";
}

}  // namespace xai::client
