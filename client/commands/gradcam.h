// xai gradcam: class activation maps of images, written as .npy maps and overlay PNGs.
#ifndef XAI_CLIENT_COMMANDS_GRADCAM_H_
#define XAI_CLIENT_COMMANDS_GRADCAM_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/results.h"

namespace xai::client {

// What `xai gradcam` (and `xai batch gradcam`) asks for, from its flags.
struct GradCamOptions {
  std::vector<std::string> layers;
  std::vector<std::string> layouts;  // LAYER=NCHW|NHWC|TOKENS[:PREFIX], checked while parsing
  std::vector<std::string> targets;  // indices or labels (ResolveTargets)
  int method = xai::v1::GRAD_CAM;
  bool eigen_smooth = false;
  bool aug_smooth = false;
  int batch_size = 0;
  MetricsFlags metrics;
  OverlayFlags overlay;
  int overlay_scale = xai::v1::SCALE_PER_MAP;
  float overlay_scale_max = 0;  // > 0: SCALE_FIXED unless another scale is asked
  std::string out_dir = ".";
};

// Adds the flags that fill `options` but --out: --layer, --layout, --target, --method, the
// smoothing, --batch-size, the metrics and the overlay flags.
void AddGradCamOptions(CLI::App* command, GradCamOptions* options);
// Once parsed: settles --overlay-scale; throws CLI::ValidationError for flags that disagree.
void CheckGradCamOptions(GradCamOptions* options);
// The request's fields from `options` and the resolved `targets` (not the model or image).
void FillGradCamRequest(const GradCamOptions& options, const std::vector<int>& targets,
                        xai::v1::GradCAMRequest* request);

// One explanation's files and CAM peak, as the summaries show them.
struct WrittenExplanation {
  int target = 0;
  std::string cam, raw, overlay;  // paths; overlay "" when the server sent no PNG
  int64_t peak_x = 0, peak_y = 0;
  float raw_peak = 0;  // the raw map's maximum: what the [0,1] map's 1 stands for
  const xai::v1::Explanation* explanation = nullptr;  // into the response
};

// The files of every explanation of `response` (not written), in `dir`, named
// ExplanationFileBase(dir, prefix, WHAT, target) + "_cam.npy", "_raw.npy", "_overlay.png",
// WHAT the method and the layers explained; false with `error` for a malformed answer.
bool GradCamFiles(const xai::v1::GradCAMResponse& response, const GradCamOptions& options,
                  const std::string& dir, const std::string& prefix,
                  std::vector<WrittenExplanation>* written, std::vector<OutputFile>* files,
                  std::string* error);
// The explanations as --json prints them (target_class, files, peaks, metrics).
nlohmann::json GradCamExplanationsJson(const std::vector<WrittenExplanation>& written);

// Adds `xai gradcam` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupGradCam(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_GRADCAM_H_
