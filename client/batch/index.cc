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

// The shard index files in `dir`, sorted; false with `error` when it cannot be listed.
bool ShardIndexFiles(const std::string& dir, std::vector<std::string>* files, std::string* error) {
  static const std::regex name(R"(index\.shard-\d+-of-\d+\.jsonl)");
  files->clear();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (std::regex_match(it->path().filename().string(), name)) {
      files->push_back(it->path().string());
    }
  }
  if (ec) {
    *error = "cannot list " + dir + ": " + ec.message();
    return false;
  }
  std::sort(files->begin(), files->end());
  return true;
}

bool IsOk(const json& line) { return line.value("status", "") == "OK"; }

}  // namespace

bool WriteAll(int fd, std::string_view text) {
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

std::string ShardIndexName(int shard, int shards) {
  char name[64];
  std::snprintf(name, sizeof(name), "index.shard-%05d-of-%05d.jsonl", shard, shards);
  return name;
}

bool ReadIndex(const std::string& path, std::vector<json>* lines, int64_t* unreadable,
               std::string* error) {
  lines->clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return true;
    *error = "cannot read " + path + ": " + Errno();
    return false;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "cannot read " + path + ": " + Errno();
    return false;
  }
  std::map<std::string, size_t> at;  // input -> its line in `lines`
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    if (end == start) continue;
    json line = json::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                            text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (!line.is_object() || !line.contains("input") || !line["input"].is_string() ||
        !line.contains("status") || !line["status"].is_string()) {
      ++*unreadable;
      continue;
    }
    const std::string input = line["input"].get<std::string>();
    if (auto it = at.find(input); it != at.end()) {
      (*lines)[it->second] = std::move(line);
    } else {
      at.emplace(input, lines->size());
      lines->push_back(std::move(line));
    }
  }
  return true;
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

bool ShardIndex::Lock(const std::string& out_dir, int shard, int shards, std::string* error) {
  out_dir_ = out_dir;
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
  // A run of another shard count writes the same images' files: one count at a time.
  static const std::regex other(R"(index\.shard-\d+-of-(\d+)\.lock)");
  std::error_code ec;
  for (fs::directory_iterator it(out_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::smatch match;
    const std::string file = it->path().filename().string();
    if (!std::regex_match(file, match, other) || std::stoi(match[1]) == shards) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    if (held) {
      *error = "a run of " + std::to_string(std::stoi(match[1])) + " shards is writing into " +
               out_dir + " (it holds " + it->path().string() + "): runs into one --out use one N";
      return false;
    }
  }
  return true;
}

bool ShardIndex::Load(const std::set<std::string>& keys, std::string* error) {
  // Each file's last line per input (the line a compaction of that file keeps): an OK one
  // is done, for that request. This shard's own file is rewritten with them.
  std::vector<std::string> files;
  if (!ShardIndexFiles(out_dir_, &files, error)) return false;
  std::vector<json> own;
  for (const std::string& file : files) {
    std::vector<json> last;
    if (!ReadIndex(file, &last, &unreadable_, error)) return false;
    for (const json& line : last) {
      if (IsOk(line) && line.contains("fingerprint") && line["fingerprint"].is_string()) {
        done_[line["input"].get<std::string>()].insert(line["fingerprint"].get<std::string>());
      }
    }
    if (file == path_) own = std::move(last);
  }
  std::string text;
  for (const json& line : own) {
    // A failed line of an input no longer given (a fixed list line, a moved file) would
    // count as failed in every merge: gone. OK lines stay with their files.
    if (!IsOk(line) && keys.count(line["input"].get<std::string>()) == 0) continue;
    text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
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

bool ShardIndex::AppendAll(const std::vector<json>& lines, std::string* error) {
  std::string text;
  for (const json& line : lines) {
    text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  std::lock_guard<std::mutex> lock(mutex_);
  struct stat before {};
  if (::fstat(fd_, &before) != 0) {
    *error = "cannot append to " + path_ + ": " + Errno();
    return false;
  }
  if (!WriteAll(fd_, text) || ::fdatasync(fd_) != 0) {
    *error = "cannot append to " + path_ + ": " + Errno();
    // A line cut short would glue itself to the next run's first line: cut it away.
    if (::ftruncate(fd_, before.st_size) != 0) *error += " (and cannot cut it back)";
    return false;
  }
  return true;
}

bool MergeIndexes(const std::string& dir, MergeSummary* summary, std::string* error) {
  if (!ShardIndexFiles(dir, &summary->shard_files, error)) return false;
  if (summary->shard_files.empty()) {
    *error = dir + " holds no index.shard-*.jsonl: is it an `xai batch` --out directory?";
    return false;
  }
  std::map<std::string, json> best;
  for (const std::string& file : summary->shard_files) {
    std::vector<json> lines;
    if (!ReadIndex(file, &lines, &summary->unreadable_lines, error)) return false;
    for (json& line : lines) {
      const std::string input = line["input"].get<std::string>();
      auto it = best.find(input);
      if (it == best.end()) {
        best.emplace(input, std::move(line));
      } else if (Supersedes(line, it->second)) {
        it->second = std::move(line);
      }
    }
  }
  std::string text;
  for (const auto& [input, line] : best) {
    ++summary->inputs;
    ++(IsOk(line) ? summary->ok : summary->failed);
    text += line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  summary->merged = (fs::path(dir) / kMergedIndexName).string();
  return ReplaceFile(summary->merged, text, error);
}

}  // namespace xai::client::batch
