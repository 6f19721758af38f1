// What `xai batch` explains: the images of a directory, a list file or a JSON Lines file,
// each under a stable key (its relative path) that names its outputs, places it in a shard
// and finds it again in the indexes of an earlier run.
#ifndef XAI_CLIENT_BATCH_INPUTS_H_
#define XAI_CLIENT_BATCH_INPUTS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace xai::client::batch {

// The file `xai batch` puts in every --out: a directory holding it is an output, never
// read as input.
inline constexpr char kOutputMarker[] = ".xai-batch-output";

struct BatchItem {
  std::string key;   // '/'-separated relative path: the index's "input", the outputs' names
  std::string path;  // the file to read
  // A JSON Lines input's per-image options: "targets", "method", "layers" (null: none).
  nlohmann::json options;
  std::string error;  // an input line that cannot be used: recorded as failed, not called
};

// The images `input` names, sorted by key:
// - a directory: every regular file under it whose first bytes are an image's (JPEG, PNG,
//   BMP, GIF, WebP, TIFF, PPM/PGM, ...), whatever its extension; files that cannot be opened
//   are listed too (their read fails, on the index), a subdirectory that cannot be read is
//   an error item; directories holding kOutputMarker (any `xai batch` --out) are skipped,
//   symbolic links to directories not followed; `exclude` (the --out) equal to `input` is
//   an error. Keys are paths relative to `input`.
// - a file ending in .jsonl, or whose first non-blank byte is '{': one JSON object a line,
//   {"image": PATH, "id": KEY?, "targets": [3, "star"]?, "method": NAME?, "layers": [...]?}.
// - any other file: one path a line ('#' starts a comment, blank lines skipped).
// Paths in a file are relative to the file's directory unless absolute; their key is the
// path as written, normalised ("./a/../b.jpg" is "b.jpg"; a leading "/" dropped, ".."
// kept as "__", bytes that are not UTF-8 as %XX), or the line's "id". A key seen twice is
// an error item. Returns false and sets `error` when `input` itself cannot be read;
// `skipped` counts directory files that are not images.
bool ListInputs(const std::string& input, std::vector<BatchItem>* items, int64_t* skipped,
                std::string* error);

// Whether `head` (a file's first bytes, 16 are enough) starts like an image file.
bool LooksLikeImage(std::string_view head);

// The key's shard of `shards`: a hash of the key (FNV-1a, 64 bits), stable across runs,
// machines and the order of the input.
int ShardOf(const std::string& key, int shards);

// The SHA-256 of `bytes` as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view bytes);

}  // namespace xai::client::batch

#endif  // XAI_CLIENT_BATCH_INPUTS_H_
