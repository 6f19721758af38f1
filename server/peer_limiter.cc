#include "server/peer_limiter.h"

namespace xai::server {

std::string_view PeerLimiter::Host(std::string_view peer) {
  if (peer.rfind("ipv4:", 0) != 0 && peer.rfind("ipv6:", 0) != 0) return peer;
  const size_t colon = peer.rfind(':');
  return colon > 5 ? peer.substr(0, colon) : peer;
}

bool PeerLimiter::Acquire(std::string_view peer) {
  const std::string host(Host(peer));
  std::lock_guard<std::mutex> lock(mu_);
  int& count = in_flight_[host];
  if (count >= limit_) {
    if (count == 0) in_flight_.erase(host);
    return false;
  }
  ++count;
  return true;
}

void PeerLimiter::Release(std::string_view peer) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = in_flight_.find(std::string(Host(peer)));
  if (it == in_flight_.end()) return;
  if (--it->second <= 0) in_flight_.erase(it);
}

}  // namespace xai::server
