#include "server/health.h"

#include <cstring>
#include <map>

namespace xai::server {

void HealthReporter::Attach(grpc::HealthCheckServiceInterface* service,
                            const core::Explainer* explainer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    service_ = service;
    explainer_ = explainer;
  }
  Update();
}

void HealthReporter::Update() {
  std::lock_guard<std::mutex> lock(mu_);
  if (service_ == nullptr || explainer_ == nullptr || shut_down_) return;
  service_->SetServingStatus(kLivenessServiceName, true);
  if (draining_) return;              // Drain set the rest NOT_SERVING
  std::map<std::string, bool> ready;  // model -> has a READY version
  for (const core::ModelVersionStatus& m : explainer_->ListModels()) {
    ready[m.name] = ready[m.name] || m.state == core::ModelState::kReady;
  }
  bool any_ready = false;
  for (const auto& [name, is_ready] : ready) {
    const std::string service = std::string(kExplainerServiceName) + "/" + name;
    service_->SetServingStatus(service, is_ready);
    published_.insert(service);
    any_ready = any_ready || is_ready;
  }
  const size_t prefix = std::strlen(kExplainerServiceName) + 1;  // "xai.v1.Explainer/"
  for (const std::string& service : published_) {                // models that disappeared
    if (ready.count(service.substr(prefix))) continue;
    service_->SetServingStatus(service, false);
  }
  const bool serving = explainer_->loaded() && any_ready;
  service_->SetServingStatus("", serving);
  service_->SetServingStatus(kExplainerServiceName, serving);
}

void HealthReporter::Drain() {
  std::lock_guard<std::mutex> lock(mu_);
  if (draining_ || shut_down_) return;
  draining_ = true;
  if (service_ == nullptr) return;
  for (const std::string& service : published_) service_->SetServingStatus(service, false);
  service_->SetServingStatus("", false);
  service_->SetServingStatus(kExplainerServiceName, false);
}

void HealthReporter::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
  if (service_ != nullptr) service_->Shutdown();  // every service NOT_SERVING, frozen
}

}  // namespace xai::server
