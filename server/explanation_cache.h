// The explanation cache (--cache-bytes): answers of Classify, GradCAM, Attribute and
// DecisionPath kept as the bytes sent, keyed by the load of the model version that serves
// and the request's bytes, so that a repeated request is answered from memory, and
// identical requests arriving together compute once (core/base/result_cache.h).
//
// The key: SHA-256 of the RPC, the serving version's load id (a reload or a newer version
// makes another) and the request message as received (model, image, targets, method,
// seed, every option: a request that differs in any byte is another entry; one that
// differs only in how it was encoded computes again, never answers wrongly).
#ifndef XAI_SERVER_EXPLANATION_CACHE_H_
#define XAI_SERVER_EXPLANATION_CACHE_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/base/result_cache.h"
#include "core/requests/request_context.h"

namespace xai::metrics {
class SampleWriter;
}  // namespace xai::metrics

namespace xai::server {

class ExplanationCache {
 public:
  // What a call answered: the response's bytes, and what it reports (model, version,
  // method) for the calls answered with it.
  struct Answer {
    std::string bytes;
    core::RequestTrace trace;
    // False: answered to the calls waiting for it, not kept (computed by another version
    // than the key's, which a version switch between the key and the queue can cause).
    bool keep = true;
  };
  using Results = core::ResultCache<Answer>;

  explicit ExplanationCache(size_t max_bytes);

  Results& results() { return results_; }
  size_t max_bytes() const { return results_.max_bytes(); }

  // The key of `request` (the raw bytes of an Explainer call) for `rpc` served by the load
  // `load_id`; "" when the bytes cannot be read (the call then bypasses the cache).
  static std::string Key(const char* rpc, uint64_t load_id, const grpc::ByteBuffer& request);

  // xai_cache_* families for /metrics.
  void Collect(metrics::SampleWriter& out) const;

 private:
  Results results_;
};

}  // namespace xai::server

#endif  // XAI_SERVER_EXPLANATION_CACHE_H_
