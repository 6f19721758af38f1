// The record of `xai batch`: one JSON line per image in each shard's index file, appended
// once the image's files are on the disk, so that a killed run loses nothing it recorded
// and a rerun knows what is done.
#ifndef XAI_CLIENT_BATCH_INDEX_H_
#define XAI_CLIENT_BATCH_INDEX_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace xai::client::batch {

// Writes all of `text` to `fd`, however many writes it takes; false with errno set when a
// write fails (ENOSPC for a write of nothing).
bool WriteAll(int fd, std::string_view text);

// "index.shard-00001-of-00003.jsonl": shard 1 of 3's index file, in the output directory.
std::string ShardIndexName(int shard, int shards);
// The merged index `xai batch merge` writes.
inline constexpr char kMergedIndexName[] = "index.jsonl";

// The complete lines of an index file, the last one per input, in the order their inputs
// first appear: a last line without its '\n' (a write cut by a kill) is not one, and a
// line that is not a JSON object with "input" and "status" is counted in `unreadable`. A
// missing file has none; one that cannot be read is false with `error`.
bool ReadIndex(const std::string& path, std::vector<nlohmann::json>* lines, int64_t* unreadable,
               std::string* error);

// Whether line `b` of an input supersedes line `a` of the same input from another shard's
// file: OK over not OK, else the later "finished".
bool Supersedes(const nlohmann::json& b, const nlohmann::json& a);

// One shard's index, held by one process at a time.
class ShardIndex {
 public:
  ShardIndex() = default;
  ShardIndex(const ShardIndex&) = delete;
  ShardIndex& operator=(const ShardIndex&) = delete;
  ~ShardIndex();

  // Takes the shard's lock (DIR/index.shard-...lock): refused while another process holds
  // it, or holds the lock of a shard of another count N (their files would collide).
  bool Lock(const std::string& out_dir, int shard, int shards, std::string* error);

  // Reads every shard index in the directory for what is done, rewrites this shard's file
  // with its last line per input (a temporary file renamed over it; failed lines of inputs
  // no longer in `keys`, this run's inputs, are dropped) and opens it for appending.
  bool Load(const std::set<std::string>& keys, std::string* error);

  // Whether `key` was done for the request `fingerprint`: the last line of `key` in some
  // shard's index is OK with that fingerprint.
  bool Done(const std::string& key, const std::string& fingerprint) const;

  // Appends `lines` in one write and flushes them to the disk (fdatasync); on failure (disk
  // full) cuts the file back to where it was and returns false with `error`. Thread-safe.
  bool AppendAll(const std::vector<nlohmann::json>& lines, std::string* error);

  const std::string& path() const { return path_; }
  int64_t unreadable_lines() const { return unreadable_; }

 private:
  std::string out_dir_;
  std::string path_;
  int fd_ = -1;
  int lock_fd_ = -1;
  int64_t unreadable_ = 0;
  std::map<std::string, std::set<std::string>> done_;  // input -> fingerprints done
  std::mutex mutex_;
};

struct MergeSummary {
  int64_t inputs = 0, ok = 0, failed = 0, unreadable_lines = 0;
  std::vector<std::string> shard_files;
  std::string merged;  // the merged file's path
};

// Reads every shard index in `dir` and writes DIR/index.jsonl (a temporary file renamed)
// with one line per input, sorted by input: each file's last line of it, the one that
// supersedes the others across files.
bool MergeIndexes(const std::string& dir, MergeSummary* summary, std::string* error);

}  // namespace xai::client::batch

#endif  // XAI_CLIENT_BATCH_INDEX_H_
