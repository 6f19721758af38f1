// Reading and validating a model's config.pbtxt (an xai.v1.ModelConfig in text format).
#ifndef XAI_CORE_REPOSITORY_MODEL_CONFIG_H_
#define XAI_CORE_REPOSITORY_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/runtime/feature_layout.h"
#include "xai/v1/model_config.pb.h"

namespace xai::core {

// Limits that ValidateModelConfig enforces.
inline constexpr int kMaxInputSide = 8192;  // pixels
inline constexpr int kMaxInstancesPerDevice = 64;
inline constexpr int kMaxBatchSize = 1024;
inline constexpr int64_t kMaxQueueDelayUs = 10'000'000;  // 10 s
inline constexpr int kMaxQueueSize = 1 << 20;

// Parses `text` (protobuf text format). `file` names the source in messages.
// INVALID_ARGUMENT "<file>:<line>:<col>: <parser message>" on a syntax or schema error.
StatusOr<xai::v1::ModelConfig> ParseModelConfig(std::string_view text, const std::string& file);

// Reads and parses `path`. NOT_FOUND when it does not exist; INVALID_ARGUMENT otherwise.
StatusOr<xai::v1::ModelConfig> ReadModelConfig(const std::string& path);

// Checks every value; the message quotes the field, the bad value and the accepted range.
// Whether layers exist is checked later, against the loaded model.
Status ValidateModelConfig(const xai::v1::ModelConfig& config);

// Whether `name` is a valid model name: 1-128 of [A-Za-z0-9_.-], not starting with '.'.
// Model names become directory names, so this also keeps path characters out.
bool IsValidModelName(std::string_view name);
// INVALID_ARGUMENT naming `field` (and quoting a short prefix of `name`) when `name` is
// not a valid model name.
Status CheckModelName(std::string_view field, std::string_view name);

// Whether `path` is a syntactically valid module path ("layer4", "features.7.0").
bool IsValidModulePath(std::string_view path);

// A layout message (config.pbtxt's cam_layers, a request's layer_layouts) in core's terms.
// An enum value out of range is kept in unknown_kind, which CheckLayoutDeclaration refuses.
LayoutDeclaration DeclarationOf(const xai::v1::LayerLayout& proto);

// Reads a labels file: one label per line, trailing '\r' and whitespace trimmed; a
// trailing empty line is ignored. NOT_FOUND / INVALID_ARGUMENT (unreadable).
StatusOr<std::vector<std::string>> ReadLabels(const std::string& path);

// Channels of the model input for a color order: 1 for GRAY, else 3.
int ChannelsOf(xai::v1::ColorOrder order);

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_MODEL_CONFIG_H_
