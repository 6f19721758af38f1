// xai attribute: pixel attributions of images, written as .npy arrays.
#ifndef XAI_CLIENT_COMMANDS_ATTRIBUTE_H_
#define XAI_CLIENT_COMMANDS_ATTRIBUTE_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/results.h"

namespace xai::client {

// What `xai attribute` (and `xai batch attribute`) asks for, from its flags.
struct AttributeOptions {
  int method = xai::v1::INTEGRATED_GRADIENTS;
  std::vector<std::string> targets;  // indices or labels (ResolveTargets)
  int steps = 0;
  int rule = xai::v1::GAUSS_LEGENDRE;
  std::vector<int> baselines;
  uint64_t seed = 0;
  int batch_size = 0;
  float max_error = 0;
  int samples = 0;
  float noise = 0;
  float noise_absolute = 0;
  int smooth_grad_of = 0;
  OverlayFlags overlay;
  MetricsFlags metrics;
  int polarity = xai::v1::POLARITY_POSITIVE;
  float clip_upper = 99.9f;
  float clip_lower = 0;
  int overlay_kind = xai::v1::OVER_IMAGE;
  std::vector<float> outlines;
  std::string out_dir = ".";
};

// Adds the flags that fill `options` but --out: --method, --target, the integration,
// sampling and noise flags, --batch-size, the metrics and the overlay flags.
void AddAttributeOptions(CLI::App* command, AttributeOptions* options);
// The request's fields from `options` and the resolved `targets` (not the model or image).
void FillAttributeRequest(const AttributeOptions& options, const std::vector<int>& targets,
                          xai::v1::AttributeRequest* request);
// The files of every attribution of `response` (not written), in `dir`, named
// ExplanationFileBase(dir, prefix, METHOD, target) + "_attribution.npy", "_map.npy",
// "_overlay.png"; `written` gets each attribution as --json prints it. False with `error`
// for a malformed answer.
bool AttributeFiles(const xai::v1::AttributeResponse& response, const AttributeOptions& options,
                    const std::string& dir, const std::string& prefix, nlohmann::json* written,
                    std::vector<OutputFile>* files, std::string* error);

// Adds `xai attribute` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupAttribute(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_ATTRIBUTE_H_
