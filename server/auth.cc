#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <set>

#include "core/base/files.h"

namespace xai::server {
namespace {

std::array<unsigned char, 32> Digest(std::string_view token) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The line's whitespace-separated fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

const char* RoleName(Role role) { return role == Role::kAdmin ? "admin" : "explain"; }

core::StatusOr<std::vector<TokenEntry>> ParseTokens(std::string_view text,
                                                    const std::string& file) {
  std::vector<TokenEntry> tokens;
  std::set<std::array<unsigned char, 32>> seen;
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    const auto fields = Fields(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    const std::string where = file + " line " + std::to_string(number);
    if (fields.size() < 2) {
      return core::InvalidArgumentError(where +
                                        ": expected TOKEN ROLE [NAME], ROLE explain or admin");
    }
    const std::string_view token = fields[0];
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return core::InvalidArgumentError(where +
                                          ": a token may hold printable ASCII characters only");
      }
    }
    if (token.size() < kMinTokenBytes) {
      return core::InvalidArgumentError(where + ": the token is shorter than " +
                                        std::to_string(kMinTokenBytes) +
                                        " characters (make one with: openssl rand -hex 32)");
    }
    TokenEntry entry;
    if (fields[1] == "explain") {
      entry.role = Role::kExplain;
    } else if (fields[1] == "admin") {
      entry.role = Role::kAdmin;
    } else {
      return core::InvalidArgumentError(where + ": unknown role '" + std::string(fields[1]) +
                                        "' (explain or admin)");
    }
    entry.digest = Digest(token);
    entry.name =
        fields.size() > 2 ? std::string(fields[2].substr(0, 64)) : "line-" + std::to_string(number);
    if (!seen.insert(entry.digest).second) {
      return core::InvalidArgumentError(where + ": the token is listed twice");
    }
    tokens.push_back(std::move(entry));
  }
  if (tokens.empty()) {
    return core::InvalidArgumentError(file + " holds no token (TOKEN ROLE [NAME] per line)");
  }
  return tokens;
}

core::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(const std::string& file) {
  std::unique_ptr<Authenticator> authenticator(new Authenticator(file));
  XAI_RETURN_IF_ERROR(authenticator->Reload().status());
  return authenticator;
}

core::StatusOr<size_t> Authenticator::Reload(bool* changed) {
  if (changed != nullptr) *changed = false;
  XAI_ASSIGN_OR_RETURN(std::string text, core::ReadFile(file_));
  const auto digest = Digest(text);
  auto tokens = ParseTokens(text, file_);
  OPENSSL_cleanse(text.data(), text.size());
  XAI_RETURN_IF_ERROR(tokens.status());
  auto shared = std::make_shared<const std::vector<TokenEntry>>(std::move(*tokens));
  std::lock_guard<std::mutex> lock(mutex_);
  if (changed != nullptr) *changed = tokens_ == nullptr || digest != file_digest_;
  file_digest_ = digest;
  tokens_ = shared;
  return tokens_->size();
}

core::StatusOr<std::string> Authenticator::Check(std::string_view authorization, Role needed,
                                                 std::string_view what) const {
  if (authorization.empty()) {
    return core::UnauthenticatedError(std::string(what) +
                                      " needs a token: send 'authorization: Bearer <token>'");
  }
  if (!StartsWithIgnoringCase(authorization, "bearer ")) {
    return core::UnauthenticatedError("the authorization is not 'Bearer <token>'");
  }
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  const auto digest = Digest(token);
  std::shared_ptr<const std::vector<TokenEntry>> tokens;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tokens = tokens_;
  }
  // Every entry is compared, whichever matches: the time taken says nothing about which.
  const TokenEntry* match = nullptr;
  for (const TokenEntry& entry : *tokens) {
    const bool equal = CRYPTO_memcmp(digest.data(), entry.digest.data(), digest.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) return core::UnauthenticatedError("the token is not valid");
  if (static_cast<int>(match->role) < static_cast<int>(needed)) {
    return core::PermissionDeniedError("the token '" + match->name + "' has the role " +
                                       RoleName(match->role) + "; " + std::string(what) +
                                       " needs " + RoleName(needed));
  }
  return match->name;
}

}  // namespace xai::server
