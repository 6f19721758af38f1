// The record of `xai batch`: one JSON line per image in each shard's index file, appended
// once the image's files are in place, so that a killed run loses nothing it recorded and
// a rerun knows what is done.
#ifndef XAI_CLIENT_BATCH_INDEX_H_
#define XAI_CLIENT_BATCH_INDEX_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace xai::client::batch {

// "index.shard-00001-of-00003.jsonl": shard 1 of 3's index file, in the output directory.
std::string ShardIndexName(int shard, int shards);
// The merged index `xai batch merge` writes.
inline constexpr char kMergedIndexName[] = "index.jsonl";

// The complete lines of an index file, in order: a last line without its '\n' (a write cut
// by a kill) is not one, and a line that is not a JSON object with "input" and "status" is
// counted in `unreadable`. A missing file has none.
std::vector<nlohmann::json> ReadIndexLines(const std::string& path, int64_t* unreadable);

// Whether line `b` supersedes line `a` of the same input: OK over not OK, else the later
// "finished".
bool Supersedes(const nlohmann::json& b, const nlohmann::json& a);

// One shard's index, held by one process at a time.
class ShardIndex {
 public:
  ShardIndex() = default;
  ShardIndex(const ShardIndex&) = delete;
  ShardIndex& operator=(const ShardIndex&) = delete;
  ~ShardIndex();

  // Takes the shard's lock (DIR/index.shard-...lock: a second process on the same shard is
  // refused), reads every shard index in `out_dir` for the inputs already OK, rewrites this
  // shard's file with its last line per input (a temporary file renamed over it) and opens
  // it for appending. False with `error` when any of that fails.
  bool Open(const std::string& out_dir, int shard, int shards, std::string* error);

  // Whether `key` was done for the request `fingerprint`: the last line of `key` in some
  // shard's index is OK with that fingerprint.
  bool Done(const std::string& key, const std::string& fingerprint) const;

  // Appends `line` and its '\n' in one write; on failure (disk full) cuts the file back to
  // where it was and returns false with `error`. Thread-safe.
  bool Append(const nlohmann::json& line, std::string* error);
  // Flushes the appended lines to the disk (fdatasync). Thread-safe.
  bool Sync(std::string* error);

  const std::string& path() const { return path_; }
  int64_t unreadable_lines() const { return unreadable_; }

 private:
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
// with one line per input, the one that supersedes the others, sorted by input.
bool MergeIndexes(const std::string& dir, MergeSummary* summary, std::string* error);

}  // namespace xai::client::batch

#endif  // XAI_CLIENT_BATCH_INDEX_H_
