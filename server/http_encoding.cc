#include "server/http_encoding.h"

#include <zlib.h>

#include <array>
#include <cctype>
#include <cstdlib>

namespace xai::server {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The q-value of one Accept-Encoding element's parameters ("q=0.5"); 1 when absent; 0 when
// malformed (a client that writes nonsense gets no compression).
double QValue(std::string_view parameters) {
  while (!parameters.empty()) {
    const size_t semicolon = parameters.find(';');
    const std::string_view parameter = Trim(parameters.substr(0, semicolon));
    parameters =
        semicolon == std::string_view::npos ? std::string_view() : parameters.substr(semicolon + 1);
    if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
        parameter[1] == '=') {
      const std::string value(parameter.substr(2));
      char* end = nullptr;
      const double q = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(q >= 0 && q <= 1)) return 0;
      return q;
    }
  }
  return 1;
}

}  // namespace

bool AcceptsGzip(std::string_view accept_encoding) {
  double gzip = -1;  // -1: not listed
  double any = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t semicolon = element.find(';');
    const std::string coding = Lower(Trim(element.substr(0, semicolon)));
    const double q =
        semicolon == std::string_view::npos ? 1 : QValue(element.substr(semicolon + 1));
    if (coding == "gzip" || coding == "x-gzip") gzip = q;
    if (coding == "*") any = q;
  }
  if (gzip >= 0) return gzip > 0;
  return any > 0;
}

bool Compressible(std::string_view content_type) {
  const std::string type = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  return type.rfind("text/", 0) == 0 || type == "application/json" ||
         type == "application/javascript" || type == "application/xml" || type == "image/svg+xml" ||
         (type.size() > 5 && type.substr(type.size() - 5) == "+json");
}

std::optional<std::string> Gzip(std::string_view data, int level) {
  z_stream stream{};
  // 15 window bits, +16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

std::optional<std::string> GzipIfWorthIt(std::string_view data, double max_ratio) {
  constexpr size_t kSmall = 48 * 1024;
  if (data.size() > kSmall && Base64Share(data) >= 0.9) return std::nullopt;
  std::optional<std::string> gzipped = Gzip(data, 1);
  if (!gzipped || static_cast<double>(gzipped->size()) >= max_ratio * data.size()) {
    return std::nullopt;
  }
  return gzipped;
}

double Base64Share(std::string_view data) {
  static const auto kTable = [] {
    std::array<bool, 256> table{};
    for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    table['+'] = table['/'] = table['='] = true;
    return table;
  }();
  constexpr size_t kRun = 128;
  size_t in_runs = 0;
  size_t run = 0;
  for (const char c : data) {
    if (kTable[static_cast<unsigned char>(c)]) {
      ++run;
    } else {
      if (run >= kRun) in_runs += run;
      run = 0;
    }
  }
  if (run >= kRun) in_runs += run;
  return data.empty() ? 0.0 : static_cast<double>(in_runs) / static_cast<double>(data.size());
}

}  // namespace xai::server
