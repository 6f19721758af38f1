// Bearer tokens: who may call what. A token file holds one token per line with its role
// ("explain": the Explainer service; "admin": that and ModelAdmin) and an optional name
// for the logs; tokens themselves are never logged. Tokens are compared by their SHA-256
// digests in constant time, and the file can be re-read while the server runs.
#ifndef XAI_SERVER_AUTH_H_
#define XAI_SERVER_AUTH_H_

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace xai::server {

enum class Role { kExplain = 1, kAdmin = 2 };  // admin may do all that explain may

const char* RoleName(Role role);

// The shortest token accepted: guessing one must be hopeless.
inline constexpr size_t kMinTokenBytes = 16;

struct TokenEntry {
  std::array<unsigned char, 32> digest{};  // SHA-256 of the token
  Role role = Role::kExplain;
  std::string name;  // for logs: the file's third column, else "line-N"
};

// Parses a token file's text: "TOKEN ROLE [NAME]" per line, '#' comments and blank lines
// ignored. INVALID_ARGUMENT naming the line (never quoting the token) for a line without a
// role, an unknown role, a token shorter than kMinTokenBytes or with bytes outside
// printable ASCII, a token listed twice, or a file with no token.
core::StatusOr<std::vector<TokenEntry>> ParseTokens(std::string_view text, const std::string& file);

class Authenticator {
 public:
  // Reads `file`; NOT_FOUND or INVALID_ARGUMENT as ParseTokens says.
  static core::StatusOr<std::unique_ptr<Authenticator>> Create(const std::string& file);

  // Re-reads the file; on an error the tokens stay as they were. Returns how many tokens
  // are in force; `changed` (optional) says whether the file differed from the last read.
  core::StatusOr<size_t> Reload(bool* changed = nullptr);

  // Checks an "authorization" header's value ("Bearer TOKEN"; the scheme in any case).
  // UNAUTHENTICATED: missing, malformed or unknown; PERMISSION_DENIED: a known token
  // whose role is below `needed` (named in the message by its name). On success, the
  // token's name (for access logs).
  core::StatusOr<std::string> Check(std::string_view authorization, Role needed,
                                    std::string_view what) const;

 private:
  explicit Authenticator(std::string file) : file_(std::move(file)) {}

  const std::string file_;
  mutable std::mutex mutex_;  // guards tokens_'s pointer; the vector itself is immutable
  std::shared_ptr<const std::vector<TokenEntry>> tokens_;
  std::array<unsigned char, 32> file_digest_{};  // of the text in force; guarded by mutex_
};

}  // namespace xai::server

#endif  // XAI_SERVER_AUTH_H_
