#include "core/repository/model_version.h"

#include "core/repository/servable_model.h"

namespace xai::core {

ModelVersion::ModelVersion(std::shared_ptr<const ServableModel> model,
                           BatchSchedulerOptions scheduling)
    : model_(std::move(model)),
      scheduler_(std::make_unique<BatchScheduler>(std::move(scheduling))) {}

ModelVersion::~ModelVersion() { Drain(); }

}  // namespace xai::core
