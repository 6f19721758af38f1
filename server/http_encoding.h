// Content negotiation and compression for the HTTP ports (zlib only): whether a client
// takes gzip, whether a type is worth compressing, and gzip itself.
#ifndef XAI_SERVER_HTTP_ENCODING_H_
#define XAI_SERVER_HTTP_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace xai::server {

// Whether an Accept-Encoding header accepts gzip: "gzip" or "*" listed with a q-value above
// 0 (and gzip not refused by its own "gzip;q=0").
bool AcceptsGzip(std::string_view accept_encoding);

// Whether a Content-Type is text that compresses: text/*, JSON, JavaScript, XML, SVG.
// Images, octet streams and everything else: no.
bool Compressible(std::string_view content_type);

// `data` as a gzip stream (RFC 1952) at `level` (1: fastest .. 9); nullopt when zlib fails.
std::optional<std::string> Gzip(std::string_view data, int level);

// `data` gzipped at level 1 when that makes it smaller than `max_ratio` of its size;
// nullopt otherwise. Over 48 KiB, data made mostly (90% or more) of base64 runs (an
// overlay's PNG, a diagram, a binary tensor in JSON), which gzip shrinks by about a quarter
// at best, is judged by a scan (about a millisecond per megabyte) and not compressed.
std::optional<std::string> GzipIfWorthIt(std::string_view data, double max_ratio);

// The share of `data` in runs of 128 or more base64 characters (A-Z a-z 0-9 + / =).
double Base64Share(std::string_view data);

}  // namespace xai::server

#endif  // XAI_SERVER_HTTP_ENCODING_H_
