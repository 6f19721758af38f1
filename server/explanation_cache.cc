#include "server/explanation_cache.h"

#include <openssl/evp.h>

#include <memory>
#include <vector>

#include "core/metrics/metrics.h"

namespace xai::server {

ExplanationCache::ExplanationCache(size_t max_bytes)
    : results_(
          max_bytes,
          [](const Answer& a) {
            return a.bytes.size() + a.trace.model.size() + a.trace.method.size();
          },
          [](const Answer& a) { return a.keep; }) {}

std::string ExplanationCache::Key(const char* rpc, uint64_t load_id,
                                  const grpc::ByteBuffer& request) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  const std::string head =
      std::string("xai-cache/1\n") + rpc + "\n" + std::to_string(load_id) + "\n";
  EVP_DigestUpdate(context.get(), head.data(), head.size());
  std::vector<grpc::Slice> slices;
  if (!request.Valid() || !request.Dump(&slices).ok()) return "";
  for (const grpc::Slice& slice : slices) {
    EVP_DigestUpdate(context.get(), slice.begin(), slice.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

void ExplanationCache::Collect(metrics::SampleWriter& out) const {
  const core::ResultCacheStats s = results_.stats();
  using metrics::Type;
  struct Family {
    const char* name;
    const char* help;
    Type type;
    double value;
  };
  const Family families[] = {
      {"xai_cache_hits_total",
       "Explainer calls answered from the explanation cache (or by the same request computing "
       "at the same time)",
       Type::kCounter, static_cast<double>(s.hits + s.joined)},
      {"xai_cache_misses_total", "Explainer calls the cache did not hold, computed", Type::kCounter,
       static_cast<double>(s.misses)},
      {"xai_cache_evictions_total", "Cached answers dropped for --cache-bytes", Type::kCounter,
       static_cast<double>(s.evictions)},
      {"xai_cache_too_large_total", "Answers not kept: larger than an eighth of --cache-bytes",
       Type::kCounter, static_cast<double>(s.too_large)},
      {"xai_cache_bytes", "Bytes the cached answers hold", Type::kGauge,
       static_cast<double>(s.bytes)},
      {"xai_cache_entries", "Answers in the cache", Type::kGauge, static_cast<double>(s.entries)},
      {"xai_cache_capacity_bytes", "--cache-bytes", Type::kGauge, static_cast<double>(max_bytes())},
  };
  for (const Family& f : families) {
    out.Describe(f.name, f.help, f.type);
    out.Sample(f.name, {}, {}, f.value);
  }
}

}  // namespace xai::server
