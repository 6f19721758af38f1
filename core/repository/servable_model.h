// One loaded, ready model version: its config, labels, instance pool and layer table.
// Immutable after load except for the pool's checkout state and the statistics; shared
// through std::shared_ptr<const ServableModel>, which every queued request holds. Its
// scheduler belongs to the repository's ModelVersion (core/repository/model_version.h).
#ifndef XAI_CORE_REPOSITORY_SERVABLE_MODEL_H_
#define XAI_CORE_REPOSITORY_SERVABLE_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/repository/model_statistics.h"
#include "core/runtime/layer_info.h"
#include "core/runtime/model_pool.h"
#include "xai/v1/model_config.pb.h"
#include "xai/v1/path_profile.pb.h"

namespace xai::core {

struct ServableModel {
  std::string name;
  int64_t version = 0;
  // Unique in the process for each load of a version: a reload of version 1 gets a new
  // one, so that what was cached from the old load is never taken for the new one's.
  uint64_t load_id = 0;
  xai::v1::ModelConfig config;       // validated
  std::vector<int64_t> input_shape;  // [C,H,W]
  std::vector<std::string> labels;   // empty, or one per class
  std::unique_ptr<ModelPool> pool;
  std::vector<LayerInfo> layers;  // execution order, layouts resolved
  // The first LayerNorm of a transformer's last block (RecommendedCamLayer); "" otherwise.
  std::string recommended_cam_layer;
  std::string default_cam_layer;  // "" when there is none usable; then the problem says why
  std::string default_cam_layer_problem;
  std::vector<std::string> default_path_layers;
  std::string default_path_layers_problem;  // why default_path_layers is empty
  // The class path library, when <version>/paths.pb exists (checked against the layers).
  std::optional<xai::v1::PathProfile> path_profile;
  // Counted by every request this version serves (the rest of the struct is immutable).
  mutable ModelStatisticsRecorder statistics;

  // "model 'name' v1", the prefix of messages about this version.
  std::string display_name() const { return "model '" + name + "' v" + std::to_string(version); }
  // The label of class `index`, or "" when the model has no labels.
  const std::string& Label(int index) const {
    static const std::string kNone;
    return index >= 0 && index < static_cast<int>(labels.size()) ? labels[index] : kNone;
  }
  const LayerInfo* FindLayer(const std::string& path) const {
    for (const LayerInfo& layer : layers) {
      if (layer.path == path) return &layer;
    }
    return nullptr;
  }
};

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_SERVABLE_MODEL_H_
