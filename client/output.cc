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

ProgressBar::ProgressBar(std::string label, int total)
    : label_(std::move(label)), total_(total), enabled_(total > 1 && isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && done_ > 0) std::fprintf(stderr, "\n");
}

void ProgressBar::Step(const std::string& item) {
  ++done_;
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? done_ * kWidth / total_ : kWidth;
  std::string shown = item.size() > 40 ? "..." + item.substr(item.size() - 37) : item;
  std::fprintf(stderr, "\r%s [%s%s] %d/%d %-40s", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done_, total_, shown.c_str());
  std::fflush(stderr);
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
