// Loading from the repository's disk, apart from the versions' lifecycle (version_states.h)
// and the repository's operations (model_repository.cc): the scan of one model's folder (its
// config, its version folders, confined to the repository) and the load of one version into a
// servable model (its instance pool, inspected layers, resolved layouts, default layers, path
// profile and scheduler options).
#ifndef XAI_CORE_REPOSITORY_VERSION_LOADER_H_
#define XAI_CORE_REPOSITORY_VERSION_LOADER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "xai/v1/model_config.pb.h"

namespace xai::core {

class ModelPool;
class ModelVersion;
struct ModelRepositoryOptions;

// A version found by the scan, to be loaded; or a model that failed as a whole.
struct PendingVersion {
  std::string name;
  int64_t version = 0;
  std::filesystem::path model_dir;
  xai::v1::ModelConfig config;
  Status problem;  // not OK: report FAILED with this reason, load nothing
};

// The versions of the model in `dir` (a folder of the repository at `root`): one entry per
// version folder with the parsed config, or a single entry with `problem` set when the
// model cannot load at all (no or a bad config, no version, a path outside the repository).
std::vector<PendingVersion> ScanModel(const std::filesystem::path& root,
                                      const std::filesystem::path& dir);

// Loads `p` (whose problem is OK): the TorchScript file into an instance pool, its layers
// inspected and their layouts resolved, the default layers chosen, the path profile read;
// the version is ready to be scheduled. An error says why the version is FAILED.
StatusOr<std::shared_ptr<ModelVersion>> LoadVersion(const PendingVersion& p,
                                                    const ModelRepositoryOptions& options);

// Logs what a load made of `p` and how long it took: instances and devices, batching,
// where ABLATION_CAM splits the graph, the logits, the default CAM layer, ambiguous layouts.
void LogLoaded(const PendingVersion& p, const ModelVersion& loaded, int64_t ms);

// Where a pool's instances run: "cpu", "cuda:0", ...
std::vector<std::string> DeviceNames(const ModelPool& pool);

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_VERSION_LOADER_H_
