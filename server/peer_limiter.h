// Calls in flight per caller address: one client cannot take every worker and queue
// slot from the others. A peer is its address without the port ("ipv4:10.0.0.7"), so all
// connections from one host count together.
#ifndef XAI_SERVER_PEER_LIMITER_H_
#define XAI_SERVER_PEER_LIMITER_H_

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace xai::server {

class PeerLimiter {
 public:
  explicit PeerLimiter(int max_calls_per_peer) : limit_(max_calls_per_peer) {}

  // Counts a call of `peer` (gRPC's peer string) in; false when the peer already has the
  // limit in flight (the call is not counted then).
  bool Acquire(std::string_view peer);
  // Counts one of `peer`'s calls out; call once per successful Acquire.
  void Release(std::string_view peer);

  int limit() const { return limit_; }
  // The address part of a gRPC peer string: "ipv4:10.0.0.7:5678" -> "ipv4:10.0.0.7",
  // "ipv6:[::1]:5678" -> "ipv6:[::1]"; others whole.
  static std::string_view Host(std::string_view peer);

 private:
  const int limit_;
  std::mutex mu_;
  std::unordered_map<std::string, int> in_flight_;  // guarded by mu_; no zero entries
};

}  // namespace xai::server

#endif  // XAI_SERVER_PEER_LIMITER_H_
