// Keeps grpc.health.v1.Health in step with the model repository:
//   ""                        SERVING once the initial load is done and a model is READY
//   "xai.v1.Explainer"        the same
//   "xai.v1.Explainer/<name>" SERVING while model <name> has a READY version
//   "liveness"                SERVING while the process answers, draining included (for
//                             liveness probes, which must not restart a pod that is
//                             loading, has no model or is draining)
// While draining (after SIGTERM, before the server stops taking calls) every name but
// "liveness" is NOT_SERVING, so that load balancers stop sending new calls.
#ifndef XAI_SERVER_HEALTH_H_
#define XAI_SERVER_HEALTH_H_

#include <grpcpp/health_check_service_interface.h>

#include <mutex>
#include <set>
#include <string>

#include "core/explainer.h"

namespace xai::server {

inline constexpr char kExplainerServiceName[] = "xai.v1.Explainer";
inline constexpr char kLivenessServiceName[] = "liveness";

// Thread safe.
class HealthReporter {
 public:
  // Publishes to `service` from now on (null: publish nothing), reading `explainer`.
  void Attach(grpc::HealthCheckServiceInterface* service, const core::Explainer* explainer);
  // Recomputes every status from the explainer's model states.
  void Update();
  // Everything but "liveness" NOT_SERVING from now on (the server is about to stop).
  void Drain();
  // Everything NOT_SERVING from now on (the server is stopping).
  void Shutdown();

 private:
  std::mutex mu_;
  grpc::HealthCheckServiceInterface* service_ = nullptr;  // guarded by mu_
  const core::Explainer* explainer_ = nullptr;            // guarded by mu_
  std::set<std::string> published_;                       // guarded by mu_
  bool draining_ = false;                                 // guarded by mu_
  bool shut_down_ = false;                                // guarded by mu_
};

}  // namespace xai::server

#endif  // XAI_SERVER_HEALTH_H_
