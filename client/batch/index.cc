#include "client/batch/index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <system_error>

namespace xai::client::batch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Errno() { return std::strerror(errno); }

// Writes all of `text` to `fd`; false with errno set when a write fails.
bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes `text` to `path` through `path.partial`, synced and renamed over it.
bool ReplaceFile(const std::string& path, const std::string& text, std::string* error) {
  const std::string partial = path + ".partial";
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot write " + partial + ": " + Errno();
    return false;
  }
  const bool ok = WriteAll(fd, text) && ::fdatasync(fd) == 0;
  const std::string why = Errno();
  ::close(fd);
  if (!ok || ::rename(partial.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + (ok ? Errno() : why);
    ::unlink(partial.c_str());
    return false;
  }
  return true;
}

// The shard index files in `dir`, sorted.
std::vector<std::string> ShardIndexFiles(const std::string& dir) {
  static const std::regex name(R"(index\.shard-\d+-of-\d+\.jsonl)");
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (std::regex_match(entry.path().filename().string(), name)) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool IsOk(const json& line) { return line.value("status", "") == "OK"; }

}  // namespace

std::string ShardIndexName(int shard, int shards) {
  char name[64];
  std::snprintf(name, sizeof(name), "index.shard-%05d-of-%05d.jsonl", shard, shards);
  return name;
}

std::vector<json> ReadIndexLines(const std::string& path, int64_t* unreadable) {
  std::vector<json> lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lines;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    if (end == start) continue;
    json line = json::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                            text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (line.is_object() && line.contains("input") && line["input"].is_string() &&
        line.contains("status") && line["status"].is_string()) {
      lines.push_back(std::move(line));
    } else {
      ++*unreadable;
    }
  }
  return lines;
}

bool Supersedes(const json& b, const json& a) {
  if (IsOk(b) != IsOk(a)) return IsOk(b);
  return b.value("finished", "") >= a.value("finished", "");
}

ShardIndex::~ShardIndex() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

bool ShardIndex::Open(const std::string& out_dir, int shard, int shards, std::string* error) {
  const std::string name = ShardIndexName(shard, shards);
  path_ = (fs::path(out_dir) / name).string();
  const std::string lock =
      (fs::path(out_dir) / (name.substr(0, name.size() - 6) + ".lock")).string();
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    *error = "cannot write in " + out_dir + ": " + lock + ": " + Errno();
    return false;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    *error = errno == EWOULDBLOCK
                 ? "another xai batch is writing shard " + std::to_string(shard) + "/" +
                       std::to_string(shards) + " into " + out_dir + " (it holds " + lock +
                       "): wait for it to end, or run another --shard"
                 : "cannot lock " + lock + ": " + Errno();
    return false;
  }
  // Each file's last line per input (the line a compaction of that file keeps): an OK one
  // is done, for that request. This shard's own file is rewritten with them.
  std::vector<json> own;
  for (const std::string& file : ShardIndexFiles(out_dir)) {
    std::vector<json> last;
    std::map<std::string, size_t> at;
    for (json& line : ReadIndexLines(file, &unreadable_)) {
      const std::string input = line["input"].get<std::string>();
      if (auto it = at.find(input); it != at.end()) {
        last[it->second] = std::move(line);
      } else {
        at.emplace(input, last.size());
        last.push_back(std::move(line));
      }
    }
    for (const json& line : last) {
      if (IsOk(line) && line.contains("fingerprint") && line["fingerprint"].is_string()) {
        done_[line["input"].get<std::string>()].insert(line["fingerprint"].get<std::string>());
      }
    }
    if (file == path_) own = std::move(last);
  }
  std::string text;
  for (const json& line : own)
    text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  if (!ReplaceFile(path_, text, error)) return false;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) {
    *error = "cannot open " + path_ + ": " + Errno();
    return false;
  }
  return true;
}

bool ShardIndex::Done(const std::string& key, const std::string& fingerprint) const {
  const auto it = done_.find(key);
  return it != done_.end() && it->second.count(fingerprint) > 0;
}

bool ShardIndex::Append(const json& line, std::string* error) {
  const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  struct stat before {};
  if (::fstat(fd_, &before) != 0) {
    *error = "cannot append to " + path_ + ": " + Errno();
    return false;
  }
  if (!WriteAll(fd_, text)) {
    *error = "cannot append to " + path_ + ": " + Errno();
    // A line cut short would glue itself to the next run's first line: cut it away.
    if (::ftruncate(fd_, before.st_size) != 0) *error += " (and cannot cut it back)";
    return false;
  }
  return true;
}

bool ShardIndex::Sync(std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (::fdatasync(fd_) != 0) {
    *error = "cannot write " + path_ + ": " + Errno();
    return false;
  }
  return true;
}

bool MergeIndexes(const std::string& dir, MergeSummary* summary, std::string* error) {
  summary->shard_files = ShardIndexFiles(dir);
  if (summary->shard_files.empty()) {
    *error = dir + " holds no index.shard-*.jsonl: is it an `xai batch` --out directory?";
    return false;
  }
  std::map<std::string, json> last;
  for (const std::string& file : summary->shard_files) {
    for (json& line : ReadIndexLines(file, &summary->unreadable_lines)) {
      const std::string input = line["input"].get<std::string>();
      auto it = last.find(input);
      if (it == last.end()) {
        last.emplace(input, std::move(line));
      } else if (Supersedes(line, it->second)) {
        it->second = std::move(line);
      }
    }
  }
  std::string text;
  for (const auto& [input, line] : last) {
    ++summary->inputs;
    ++(IsOk(line) ? summary->ok : summary->failed);
    text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  summary->merged = (fs::path(dir) / kMergedIndexName).string();
  return ReplaceFile(summary->merged, text, error);
}

}  // namespace xai::client::batch
