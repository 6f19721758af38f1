#include "client/batch/inputs.h"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
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

// `path` as a key: normalised, '/'-separated, never absolute and never above its root.
std::string KeyOf(const fs::path& path) {
  std::string key;
  for (const fs::path& part : path.lexically_normal()) {
    const std::string name = part.generic_string();
    if (name.empty() || name == "/" || name == ".") continue;
    key += (key.empty() ? "" : "/") + (name == ".." ? std::string("__") : name);
  }
  return key;
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

bool ListDirectory(const fs::path& root, const std::string& exclude, std::vector<BatchItem>* items,
                   int64_t* skipped, std::string* error) {
  std::error_code ec;
  const fs::path excluded = exclude.empty() ? fs::path() : fs::weakly_canonical(exclude, ec);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    *error = "cannot read directory " + root.string() + ": " + ec.message();
    return false;
  }
  std::map<std::string, std::string> seen;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      *error = "cannot read directory " + root.string() + ": " + ec.message();
      return false;
    }
    const fs::directory_entry& entry = *it;
    if (entry.is_directory(ec)) {
      if (!excluded.empty() && fs::weakly_canonical(entry.path(), ec) == excluded) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!entry.is_regular_file(ec)) continue;
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
    Add(std::move(item), key, &seen, items);
  }
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

bool ListInputs(const std::string& input, const std::string& exclude, std::vector<BatchItem>* items,
                int64_t* skipped, std::string* error) {
  items->clear();
  *skipped = 0;
  std::error_code ec;
  const fs::file_status status = fs::status(input, ec);
  bool ok;
  if (fs::is_directory(status)) {
    ok = ListDirectory(input, exclude, items, skipped, error);
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
