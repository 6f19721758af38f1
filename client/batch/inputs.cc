#include "client/batch/inputs.h"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

namespace xai::client::batch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

// The length of the valid UTF-8 sequence at text[i], or 0 when there is none.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) return 0;
  }
  return n;
}

// `path` as a key: normalised, '/'-separated, never absolute and never above its root;
// bytes that are not UTF-8 as %XX, so that the key is the same text in the index (JSON)
// as in memory.
std::string KeyOf(const fs::path& path) {
  std::string key;
  for (const fs::path& part : path.lexically_normal()) {
    const std::string name = part.generic_string();
    if (name.empty() || name == "/" || name == ".") continue;
    key += (key.empty() ? "" : "/") + (name == ".." ? std::string("__") : name);
  }
  std::string escaped;
  for (size_t i = 0; i < key.size();) {
    if (const size_t n = Utf8Length(key, i); n > 0) {
      escaped.append(key, i, n);
      i += n;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(key[i++]));
      escaped += hex;
    }
  }
  return escaped;
}

// The first `n` bytes of `path`; false when it cannot be opened.
bool ReadHead(const fs::path& path, size_t n, std::string* head) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  head->assign(n, '\0');
  in.read(head->data(), static_cast<std::streamsize>(n));
  head->resize(static_cast<size_t>(in.gcount()));
  return true;
}

// Adds `item` unless its key is taken, in which case an error item says where it was first.
void Add(BatchItem item, const std::string& where, std::map<std::string, std::string>* seen,
         std::vector<BatchItem>* items) {
  if (auto [it, added] = seen->emplace(item.key, where); !added) {
    item.error = "the same input as " + it->second +
                 " again: each image is explained once (a JSON Lines \"id\" names a second "
                 "request for one image)";
    item.key += "#" + where;
  }
  items->push_back(std::move(item));
}

// Adds the images under `dir` (its key prefix `prefix`); a directory that cannot be read is
// an error item; directories holding kOutputMarker (an `xai batch` --out) are left out, and
// symbolic links to directories are not followed.
void Walk(const fs::path& dir, const fs::path& root, std::map<std::string, std::string>* seen,
          std::vector<BatchItem>* items, int64_t* skipped) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  std::vector<fs::path> subdirectories;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::error_code type_ec;
    if (entry.is_symlink(type_ec) ? false : entry.is_directory(type_ec)) {
      if (!fs::exists(entry.path() / kOutputMarker, type_ec)) {
        subdirectories.push_back(entry.path());
      }
      continue;
    }
    if (!entry.is_regular_file(type_ec)) continue;
    std::string head;
    // A file that cannot be opened is listed: its read fails on the index, not silently.
    if (ReadHead(entry.path(), 16, &head) && !LooksLikeImage(head)) {
      ++*skipped;
      continue;
    }
    BatchItem item;
    item.key = KeyOf(entry.path().lexically_relative(root));
    item.path = entry.path().string();
    const std::string key = item.key;
    Add(std::move(item), key, seen, items);
  }
  if (ec) {
    BatchItem item;
    item.key = KeyOf(dir.lexically_relative(root)) + "/";
    item.path = dir.string();
    item.error = "cannot read directory " + dir.string() + ": " + ec.message() +
                 " (its images are not listed)";
    const std::string key = item.key;
    Add(std::move(item), key, seen, items);
  }
  for (const fs::path& sub : subdirectories) Walk(sub, root, seen, items, skipped);
}

bool ListDirectory(const fs::path& root, std::vector<BatchItem>* items, int64_t* skipped,
                   std::string* error) {
  std::error_code ec;
  fs::directory_iterator probe(root, ec);
  if (ec) {
    *error = "cannot read directory " + root.string() + ": " + ec.message();
    return false;
  }
  std::map<std::string, std::string> seen;
  Walk(root, root, &seen, items, skipped);
  return true;
}

bool ListFile(const fs::path& file, std::vector<BatchItem>* items, std::string* error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *error = "cannot open " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool jsonl =
      file.extension() == ".jsonl" || (first != std::string::npos && text[first] == '{');
  const fs::path base = file.parent_path();
  std::map<std::string, std::string> seen;
  size_t line_number = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos || (!jsonl && line[begin] == '#')) continue;
    line = line.substr(begin, line.find_last_not_of(" \t") - begin + 1);
    const std::string where = file.filename().string() + ":" + std::to_string(line_number);
    BatchItem item;
    std::string image = line, id;
    if (jsonl) {
      json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
      std::string problem;
      if (!value.is_object()) {
        problem = "not a JSON object";
      } else if (!value.contains("image") || !value["image"].is_string() ||
                 value["image"].get<std::string>().empty()) {
        problem = "needs \"image\": the image file's path";
      } else if (value.contains("id") && !value["id"].is_string()) {
        problem = "\"id\" must be a string";
      } else {
        for (const auto& [name, field] : value.items()) {
          if (name != "image" && name != "id" && name != "targets" && name != "method" &&
              name != "layers") {
            problem =
                "unknown key \"" + name + "\" (a line holds image, id, targets, method and layers)";
            break;
          }
        }
      }
      if (!problem.empty()) {
        item.key = where;
        item.path = where;
        item.error = where + ": " + problem;
        Add(std::move(item), where, &seen, items);
        continue;
      }
      image = value["image"].get<std::string>();
      if (value.contains("id")) id = value["id"].get<std::string>();
      value.erase("image");
      value.erase("id");
      item.options = std::move(value);
    }
    const fs::path path(image);
    item.path = (path.is_absolute() ? path : base / path).string();
    item.key = id.empty() ? KeyOf(path) : KeyOf(fs::path(id));
    if (item.key.empty()) {
      item.key = where;
      item.error = where + ": \"" + (id.empty() ? image : id) + "\" names no file";
    }
    Add(std::move(item), where, &seen, items);
  }
  return true;
}

}  // namespace

bool LooksLikeImage(std::string_view head) {
  // Magic numbers of the formats OpenCV decodes.
  return StartsWith(head, "\xFF\xD8\xFF") ||                          // JPEG
         StartsWith(head, "\x89PNG\r\n\x1A\n") ||                     // PNG
         StartsWith(head, "BM") ||                                    // BMP
         StartsWith(head, "GIF87a") || StartsWith(head, "GIF89a") ||  // GIF
         (StartsWith(head, "RIFF") && head.size() >= 12 && head.substr(8, 4) == "WEBP") ||
         StartsWith(head, std::string_view("II*\0", 4)) ||           // TIFF
         StartsWith(head, std::string_view("MM\0*", 4)) ||           // TIFF
         StartsWith(head, std::string_view("\0\0\0\x0CjP  ", 8)) ||  // JPEG 2000
         (head.size() >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6' &&
          (head[2] == '\n' || head[2] == ' ' || head[2] == '\r' || head[2] == '\t'));  // PNM
}

bool ListInputs(const std::string& input, std::vector<BatchItem>* items, int64_t* skipped,
                std::string* error) {
  items->clear();
  *skipped = 0;
  std::error_code ec;
  const fs::file_status status = fs::status(input, ec);
  bool ok;
  if (fs::is_directory(status)) {
    ok = ListDirectory(input, items, skipped, error);
  } else if (fs::exists(status)) {
    ok = ListFile(input, items, error);
  } else {
    *error = input + ": no such file or directory";
    return false;
  }
  if (!ok) return false;
  std::stable_sort(items->begin(), items->end(),
                   [](const BatchItem& a, const BatchItem& b) { return a.key < b.key; });
  return true;
}

int ShardOf(const std::string& key, int shards) {
  uint64_t hash = 1469598103934665603ull;
  for (const unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int>(hash % static_cast<uint64_t>(shards));
}

std::string Sha256Hex(std::string_view bytes) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

}  // namespace xai::client::batch
