// Quoting what a caller sent in error messages: at most a short prefix, so that a message
// never grows with its input. A status message travels in an HTTP/2 trailer that clients
// cap at a few KB; one larger fails the call, and with gRPC every other call on the same
// connection too. The C++ standard library only.
#ifndef XAI_CORE_BASE_QUOTE_H_
#define XAI_CORE_BASE_QUOTE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace xai::core {

inline constexpr size_t kQuotedPrefixBytes = 64;

// The length of the well-formed UTF-8 sequence `s` starts with (1 to 4), or 0 when it
// starts with none (a stray byte, a truncated, overlong or surrogate sequence, or "").
size_t Utf8SequenceLength(std::string_view s);

// `"text"`, with `"`, `\` and bytes below 0x20 or not UTF-8 escaped (\", \\, \xNN); input
// longer than `max_bytes`: its first bytes up to a UTF-8 boundary, then `..." (N bytes)`.
std::string QuoteInput(std::string_view text, size_t max_bytes = kQuotedPrefixBytes);

// `message` when it has at most `max_bytes`, else its first bytes up to a UTF-8 boundary
// and " [... cut: N bytes in all]": the last guard before a message leaves the server.
std::string CapMessage(std::string_view message, size_t max_bytes);

}  // namespace xai::core

#endif  // XAI_CORE_BASE_QUOTE_H_
