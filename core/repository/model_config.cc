#include "core/repository/model_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/base/quote.h"
#include "core/runtime/devices.h"

namespace xai::core {
namespace {

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ = file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string file_;
  std::string first_;
};

Status CheckFloats(const google::protobuf::RepeatedField<float>& values, const char* field,
                   int channels, bool positive) {
  if (!values.empty() && values.size() != channels) {
    return InvalidArgumentError(std::string(field) + " must have 0 or " + std::to_string(channels) +
                                " values (one per channel), got " + std::to_string(values.size()));
  }
  for (int i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (!std::isfinite(v) || (positive && v <= 0)) {
      std::ostringstream out;
      out << field << "[" << i << "] must be " << (positive ? "finite and > 0" : "finite")
          << ", got " << v;
      return InvalidArgumentError(out.str());
    }
  }
  return OkStatus();
}

}  // namespace

bool IsValidModelName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status CheckModelName(std::string_view field, std::string_view name) {
  if (IsValidModelName(name)) return OkStatus();
  return InvalidArgumentError(std::string(field) + " " + QuoteInput(name) +
                              " is not a valid model name: 1-128 characters of "
                              "[A-Za-z0-9_.-], not starting with '.'");
}

bool IsValidModulePath(std::string_view path) {
  if (path.empty() || path.size() > 512) return false;
  bool segment_empty = true;
  for (char c : path) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
    segment_empty = false;
  }
  return !segment_empty;
}

StatusOr<xai::v1::ModelConfig> ParseModelConfig(std::string_view text, const std::string& file) {
  xai::v1::ModelConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors(file);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return InvalidArgumentError(errors.first().empty() ? file + ": not a valid ModelConfig"
                                                       : errors.first());
  }
  return config;
}

StatusOr<xai::v1::ModelConfig> ReadModelConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseModelConfig(text.str(), path);
}

Status ValidateModelConfig(const xai::v1::ModelConfig& config) {
  if (!config.name().empty() && !IsValidModelName(config.name())) {
    return InvalidArgumentError(
        "name " + QuoteInput(config.name()) +
        " must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.'");
  }
  if (!config.has_input()) return InvalidArgumentError("input is required (height, width, ...)");
  const xai::v1::InputSpec& input = config.input();
  if (input.height() < 1 || input.height() > kMaxInputSide) {
    return InvalidArgumentError("input.height must be in [1, " + std::to_string(kMaxInputSide) +
                                "], got " + std::to_string(input.height()));
  }
  if (input.width() < 1 || input.width() > kMaxInputSide) {
    return InvalidArgumentError("input.width must be in [1, " + std::to_string(kMaxInputSide) +
                                "], got " + std::to_string(input.width()));
  }
  if (!xai::v1::ColorOrder_IsValid(input.color_order())) {
    return InvalidArgumentError("input.color_order must be RGB, BGR or GRAY, got " +
                                std::to_string(input.color_order()));
  }
  if (!xai::v1::ResizeMode_IsValid(input.resize())) {
    return InvalidArgumentError("input.resize must be STRETCH or SHORTER_SIDE_CENTER_CROP, got " +
                                std::to_string(input.resize()));
  }
  const int channels = input.color_order() == xai::v1::GRAY ? 1 : 3;
  XAI_RETURN_IF_ERROR(CheckFloats(input.mean(), "input.mean", channels, /*positive=*/false));
  XAI_RETURN_IF_ERROR(CheckFloats(input.std(), "input.std", channels, /*positive=*/true));

  const std::string& labels = config.labels_file();
  if (!labels.empty() && (labels.find('/') != std::string::npos ||
                          labels.find('\\') != std::string::npos || labels[0] == '.')) {
    return InvalidArgumentError("labels_file " + QuoteInput(labels) +
                                " must be a file name inside the model's directory");
  }
  if (!config.default_cam_layer().empty() && !IsValidModulePath(config.default_cam_layer())) {
    return InvalidArgumentError("default_cam_layer " + QuoteInput(config.default_cam_layer()) +
                                " is not a module path like \"layer4\" or \"features.7.0\"");
  }
  for (int i = 0; i < config.default_path_layers_size(); ++i) {
    const std::string& layer = config.default_path_layers(i);
    if (!IsValidModulePath(layer)) {
      return InvalidArgumentError("default_path_layers[" + std::to_string(i) + "] " +
                                  QuoteInput(layer) +
                                  " is not a module path like \"layer4\" or \"features.7.0\"");
    }
  }
  for (int i = 0; i < config.cam_layers_size(); ++i) {
    const xai::v1::LayerLayout& entry = config.cam_layers(i);
    const std::string field = "cam_layers[" + std::to_string(i) + "]";
    if (!IsValidModulePath(entry.layer())) {
      return InvalidArgumentError(
          field + ".layer " + QuoteInput(entry.layer()) +
          " is not a module path like \"encoder.layers.encoder_layer_11.ln_1\"");
    }
    for (int j = 0; j < i; ++j) {
      if (config.cam_layers(j).layer() == entry.layer()) {
        return InvalidArgumentError(field + ".layer " + QuoteInput(entry.layer()) +
                                    " is declared twice");
      }
    }
    const Status checked = CheckLayoutDeclaration(DeclarationOf(entry));
    if (!checked.ok()) return InvalidArgumentError(field + ": " + checked.message());
  }
  if (config.output().size() > 128) {
    return InvalidArgumentError("output must be an index or a key of at most 128 characters");
  }
  for (int g = 0; g < config.instance_group_size(); ++g) {
    const xai::v1::InstanceGroup& group = config.instance_group(g);
    const std::string field = "instance_group[" + std::to_string(g) + "]";
    if (group.count() < 0 || group.count() > kMaxInstancesPerDevice) {
      return InvalidArgumentError(field + ".count must be in [0, " +
                                  std::to_string(kMaxInstancesPerDevice) + "] (0: 1), got " +
                                  std::to_string(group.count()));
    }
    for (int d = 0; d < group.devices_size(); ++d) {
      if (!IsValidDeviceName(group.devices(d))) {
        return InvalidArgumentError(field + ".devices[" + std::to_string(d) + "] " +
                                    QuoteInput(group.devices(d)) +
                                    " must be \"cpu\", \"cuda\", \"cuda:N\" or \"auto\"");
      }
    }
  }
  if (config.has_dynamic_batching()) {
    const xai::v1::DynamicBatching& batching = config.dynamic_batching();
    if (batching.max_batch_size() < 1 || batching.max_batch_size() > kMaxBatchSize) {
      return InvalidArgumentError("dynamic_batching.max_batch_size must be in [1, " +
                                  std::to_string(kMaxBatchSize) + "], got " +
                                  std::to_string(batching.max_batch_size()));
    }
    if (batching.max_queue_delay_us() < 0 || batching.max_queue_delay_us() > kMaxQueueDelayUs) {
      return InvalidArgumentError("dynamic_batching.max_queue_delay_us must be in [0, " +
                                  std::to_string(kMaxQueueDelayUs) + "], got " +
                                  std::to_string(batching.max_queue_delay_us()));
    }
  }
  if (config.max_queue_size() < 0 || config.max_queue_size() > kMaxQueueSize) {
    return InvalidArgumentError("max_queue_size must be in [0, " + std::to_string(kMaxQueueSize) +
                                "] (0: the server's --queue-capacity), got " +
                                std::to_string(config.max_queue_size()));
  }
  if (!xai::v1::Precision_IsValid(config.precision())) {
    return InvalidArgumentError("precision must be FP32, FP16 or BF16, got " +
                                std::to_string(config.precision()));
  }
  return OkStatus();
}

StatusOr<std::vector<std::string>> ReadLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot open labels file " + path);
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    labels.push_back(line);
  }
  if (in.bad()) return InvalidArgumentError("cannot read labels file " + path);
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

int ChannelsOf(xai::v1::ColorOrder order) { return order == xai::v1::GRAY ? 1 : 3; }

LayoutDeclaration DeclarationOf(const xai::v1::LayerLayout& proto) {
  LayoutDeclaration d;
  switch (proto.layout()) {
    case xai::v1::NCHW:
      d.kind = FeatureLayout::kNchw;
      break;
    case xai::v1::NHWC:
      d.kind = FeatureLayout::kNhwc;
      break;
    case xai::v1::TOKENS:
      d.kind = FeatureLayout::kTokens;
      break;
    case xai::v1::LAYOUT_AUTO:
      break;
    default:
      d.unknown_kind = proto.layout();
      break;
  }
  d.prefix_tokens = proto.prefix_tokens();
  d.grid_height = proto.grid_height();
  d.grid_width = proto.grid_width();
  return d;
}

}  // namespace xai::core
