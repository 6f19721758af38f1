// xai gradcam: class activation maps of images, written as .npy maps and overlay PNGs.
#include "client/commands/gradcam.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/choices.h"
#include "client/common.h"
#include "client/npy.h"
#include "client/output.h"
#include "client/results.h"
#include "core/base/files.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

// xai.v1.OverlayScale as --overlay-scale takes it.
const std::vector<Choice>& OverlayScaleChoices() {
  static const std::vector<Choice> choices = {{"per-map", xai::v1::SCALE_PER_MAP, {"per_map"}},
                                              {"shared", xai::v1::SCALE_SHARED},
                                              {"fixed", xai::v1::SCALE_FIXED}};
  return choices;
}

// The line under the table that says what red means in the overlays.
std::string ScaleLine(const GradCamOptions& options, float largest_raw_peak) {
  switch (options.overlay_scale) {
    case xai::v1::SCALE_SHARED:
      return "one scale for every target of an image: red is the largest RAW PEAK (" +
             FormatSignificant(largest_raw_peak, 4) +
             " in the last image); weaker maps are drawn weaker";
    case xai::v1::SCALE_FIXED:
      return "fixed: red is a raw value of " + FormatSignificant(options.overlay_scale_max, 4) +
             " in every overlay";
    default:
      return "each overlay scaled to its own map's maximum (red is that map's RAW PEAK, whatever "
             "the target's probability); --overlay-scale shared compares targets";
  }
}

// "blocks.11.norm1=TOKENS:1" or "stages.3=NHWC" as a LayerLayout; "" on success, else why not.
std::string ParseLayout(const std::string& text, xai::v1::LayerLayout* out) {
  const size_t equals = text.rfind('=');
  if (equals == std::string::npos || equals == 0) {
    return "expected LAYER=NCHW, LAYER=NHWC or LAYER=TOKENS:PREFIX, got \"" + text + "\"";
  }
  std::string layout = text.substr(equals + 1);
  std::string prefix;
  if (const size_t colon = layout.find(':'); colon != std::string::npos) {
    prefix = layout.substr(colon + 1);
    layout.resize(colon);
  }
  for (char& c : layout) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  xai::v1::FeatureLayout kind;
  if (!xai::v1::FeatureLayout_Parse(layout, &kind) || kind == xai::v1::LAYOUT_AUTO) {
    return "layout \"" + layout + "\" is not NCHW, NHWC or TOKENS";
  }
  out->set_layer(text.substr(0, equals));
  out->set_layout(kind);
  if (!prefix.empty()) {
    if (kind != xai::v1::TOKENS || prefix.size() > 4 ||
        prefix.find_first_not_of("0123456789") != std::string::npos) {
      return "\":" + prefix + "\" must be TOKENS' number of prefix tokens, e.g. TOKENS:1";
    }
    out->set_prefix_tokens(std::stoi(prefix));
  }
  return "";
}

// (x, y) and value of the first maximum, in row-major order, of a [H,W] float32 tensor.
bool CamPeak(const xai::v1::Tensor& cam, int64_t* x, int64_t* y, float* peak, std::string* error) {
  const std::string& data = cam.data();
  const uint64_t floats = data.size() / sizeof(float);
  // Bounding each side by the data's size first keeps their product from overflowing.
  if (cam.shape_size() != 2 || cam.shape(0) <= 0 || cam.shape(1) <= 0 ||
      static_cast<uint64_t>(cam.shape(0)) > floats ||
      static_cast<uint64_t>(cam.shape(1)) > floats ||
      static_cast<uint64_t>(cam.shape(0) * cam.shape(1)) * sizeof(float) != data.size()) {
    *error = "the server sent a cam of shape " + Shape(cam.shape()) + " with " +
             std::to_string(data.size()) + " bytes, not [H,W] float32";
    return false;
  }
  uint64_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (uint64_t i = 0; i < floats; ++i) {
    // The wire's floats are little-endian whatever the host's byte order.
    const auto* b = reinterpret_cast<const unsigned char*>(data.data()) + i * sizeof(float);
    const uint32_t bits = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    if (value > best_value) {
      best_value = value;
      best = i;
    }
  }
  *x = static_cast<int64_t>(best % cam.shape(1));
  *y = static_cast<int64_t>(best / cam.shape(1));
  *peak = best_value;
  return true;
}

// What the file names say besides the image and the target: the method, its smoothing and
// the layers explained (the server names the default layer it chose),
// e.g. "grad_cam_layer4" or "score_cam+eigen_smooth_layer3+layer4".
std::string FileWhat(const GradCamOptions& options, const xai::v1::GradCAMResponse& response) {
  std::string what = ChoiceName(CamMethodChoices(), options.method);
  if (options.eigen_smooth) what += "+eigen_smooth";
  if (options.aug_smooth) what += "+aug_smooth";
  std::string layers = xai::core::Join({response.layers().begin(), response.layers().end()}, "+");
  if (layers.empty()) layers = xai::core::Join(options.layers, "+");  // a server before .layers
  return FileNamePart(what + "_" + (layers.empty() ? "default_layer" : layers));
}

}  // namespace

bool GradCamFiles(const xai::v1::GradCAMResponse& response, const GradCamOptions& options,
                  const std::string& dir, const std::string& prefix,
                  std::vector<WrittenExplanation>* written, std::vector<OutputFile>* files,
                  std::string* error) {
  const std::string what = FileWhat(options, response);
  for (const auto& e : response.explanations()) {
    WrittenExplanation w;
    w.target = e.target_class();
    w.explanation = &e;
    float cam_peak = 0;
    int64_t raw_x = 0, raw_y = 0;
    if (!CamPeak(e.cam(), &w.peak_x, &w.peak_y, &cam_peak, error) ||
        !CamPeak(e.raw(), &raw_x, &raw_y, &w.raw_peak, error)) {
      return false;
    }
    const std::string base = ExplanationFileBase(dir, prefix, what, e.target_class());
    w.cam = base + "_cam.npy";
    w.raw = base + "_raw.npy";
    OutputFile cam{w.cam, ""}, raw{w.raw, ""};
    if (!NpyFloat32(w.cam, {e.cam().shape().begin(), e.cam().shape().end()}, e.cam().data(),
                    &cam.bytes, error) ||
        !NpyFloat32(w.raw, {e.raw().shape().begin(), e.raw().shape().end()}, e.raw().data(),
                    &raw.bytes, error)) {
      return false;
    }
    files->push_back(std::move(cam));
    files->push_back(std::move(raw));
    if (!e.overlay_png().empty()) {
      w.overlay = base + "_overlay.png";
      files->push_back({w.overlay, e.overlay_png()});
    }
    written->push_back(std::move(w));
  }
  return true;
}

json GradCamExplanationsJson(const std::vector<WrittenExplanation>& written) {
  json explanations = json::array();
  for (const auto& w : written) {
    explanations.push_back(
        {{"target_class", w.target},
         {"cam", w.cam},
         {"raw", w.raw},
         {"overlay", w.overlay.empty() ? json(nullptr) : json(w.overlay)},
         {"cam_peak", {w.peak_x, w.peak_y}},
         {"raw_peak", w.raw_peak},
         {"metrics",
          w.explanation->has_metrics() ? MetricsJson(w.explanation->metrics()) : json(nullptr)}});
  }
  return explanations;
}

void FillGradCamRequest(const GradCamOptions& options, const std::vector<int>& targets,
                        xai::v1::GradCAMRequest* request) {
  for (const std::string& layer : options.layers) request->add_layers(layer);
  for (const std::string& layout : options.layouts) {
    ParseLayout(layout, request->add_layer_layouts());  // checked while parsing the flags
  }
  for (const int target : targets) request->add_target_classes(target);
  request->set_method(static_cast<xai::v1::CamMethod>(options.method));
  request->set_eigen_smooth(options.eigen_smooth);
  request->set_aug_smooth(options.aug_smooth);
  request->set_batch_size(options.batch_size);
  SetMetrics(options.metrics, request->mutable_metrics());
  SetOverlay(options.overlay, request->mutable_overlay());
  if (!options.overlay.no_overlay) {
    request->mutable_overlay()->set_scale(
        static_cast<xai::v1::OverlayScale>(options.overlay_scale));
    request->mutable_overlay()->set_scale_max(options.overlay_scale_max);
  }
}

namespace {

int RunGradCam(const GlobalOptions& g, const std::string& model, int64_t version,
               const std::vector<std::string>& images, const GradCamOptions& options) {
  if (!MakeOutDir("gradcam", options.out_dir)) return kExitFailure;
  xai::v1::GradCAMRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  std::vector<int> targets;
  if (const int code = ResolveTargets(g, "gradcam", model, version, options.targets, &targets)) {
    return code;
  }
  FillGradCamRequest(options, targets, &request);

  auto stub = Connect(g);
  float largest_raw_peak = 0;
  const std::vector<std::string> prefixes = OutputPrefixes(images);
  json results = json::array();
  const int failures = ForEachImage(
      g, "gradcam", images, &results, [&](size_t i, const std::string& path, std::string bytes) {
        request.mutable_image()->set_encoded(std::move(bytes));
        grpc::ClientContext context;
        PrepareCall(&context, g);
        xai::v1::GradCAMResponse response;
        const grpc::Status status = stub->GradCAM(&context, request, &response);
        if (!status.ok()) return Describe(status, g);
        std::string error;
        std::vector<WrittenExplanation> written;
        std::vector<OutputFile> files;
        if (!GradCamFiles(response, options, options.out_dir, prefixes[i], &written, &files,
                          &error) ||
            !WriteOutputFiles(files, &error)) {
          return error;
        }

        if (g.json) {
          const json explanations = GradCamExplanationsJson(written);
          results.push_back(
              {{"image", path},
               {"model",
                {{"name", response.model().name()}, {"version", response.model().version()}}},
               {"classes", ClassesJson(response.classes())},
               {"explanations", explanations}});
          return std::string();
        }
        std::string top;
        if (!response.classes().empty()) {
          const auto& c = response.classes(0);
          top = "; top class " + std::to_string(c.index()) +
                (c.label().empty() ? "" : " " + c.label()) + ", " + FormatFloat(c.probability(), 4);
        }
        std::printf("%s  (model %s v%lld%s)\n", path.c_str(), response.model().name().c_str(),
                    static_cast<long long>(response.model().version()), top.c_str());
        std::vector<std::vector<std::string>> rows;
        largest_raw_peak = 0;
        for (const auto& w : written) {
          largest_raw_peak = std::max(largest_raw_peak, w.raw_peak);
          // The response lists only the top classes; a target outside them has no score here.
          std::string label = "-", probability = "-";
          for (const auto& c : response.classes()) {
            if (c.index() == w.target) {
              label = c.label();
              probability = FormatFloat(c.probability(), 4);
            }
          }
          std::vector<std::string> row = {
              "  " + std::to_string(w.target), label, probability,
              "(" + std::to_string(w.peak_x) + ", " + std::to_string(w.peak_y) + ")",
              FormatSignificant(w.raw_peak, 4)};
          if (w.explanation->has_metrics()) {
            const std::vector<std::string> cells = MetricCells(w.explanation->metrics());
            row.insert(row.end(), cells.begin(), cells.end());
          }
          row.push_back(w.cam + " " + w.raw + (w.overlay.empty() ? "" : " " + w.overlay));
          rows.push_back(std::move(row));
        }
        PrintResultTable({"  TARGET", "LABEL", "PROBABILITY", "CAM PEAK", "RAW PEAK"},
                         options.metrics.metrics, rows);
        return std::string();
      });
  if (g.json) {
    std::cout << JsonText(json{{"results", results}}) << "\n";
  } else if (failures < static_cast<int>(images.size())) {
    // What the pictures mean, once: the scale, and the method's legend from the server's
    // method table.
    if (!options.overlay.no_overlay) {
      std::printf("%s", Wrapped("scale:  ", ScaleLine(options, largest_raw_peak)).c_str());
    }
    const std::string legend =
        MethodLegend(g, model, version, xai::v1::CamMethod_Name(options.method));
    if (!legend.empty()) std::printf("%s", Wrapped("legend: ", legend).c_str());
  }
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

void AddGradCamOptions(CLI::App* command, GradCamOptions* options) {
  // One value per flag, so that images after `--layer L` are not taken for layers.
  command
      ->add_option("--layer", options->layers,
                   "Module path as `xai describe` lists it; repeat to average several maps; "
                   "none: the model's default CAM layer")
      ->allow_extra_args(false);
  command
      ->add_option("--layout", options->layouts,
                   "How a --layer's output holds its feature map, for this call: LAYER=NCHW, "
                   "LAYER=NHWC (channels-last) or LAYER=TOKENS:PREFIX (e.g. "
                   "blocks.11.norm1=TOKENS:1); none: as `xai describe` shows it (docs/MODELS.md)")
      ->allow_extra_args(false)
      ->check([](const std::string& value) {
        xai::v1::LayerLayout layout;
        return ParseLayout(value, &layout);
      });
  AddTargetOption(command, &options->targets, "repeat for several; none: the top-1 class");
  AddChoiceOption(command, "--method", &options->method, CamMethodChoices(),
                  "CAM method, case-insensitive (docs/METHODS.md)", "grad_cam");
  command->add_flag("--eigen-smooth", options->eigen_smooth,
                    "Project the weighted activations on their first principal component "
                    "instead of summing them (pytorch-grad-cam's eigen_smooth)");
  command->add_flag("--aug-smooth", options->aug_smooth,
                    "Average the maps of six variants of the image (horizontal flip x brightness "
                    "0.9, 1.0, 1.1), each flipped back: pytorch-grad-cam's aug_smooth, six times "
                    "the work");
  command
      ->add_option("--batch-size", options->batch_size,
                   "SCORE_CAM, ABLATION_CAM and --metrics: perturbed inputs per forward (0: the "
                   "server's default, 64; it refuses more than its --max-perturbation-batch)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddMetricsFlags(command, &options->metrics, "about 2 x steps more forwards per target");
  CLI::Option* no_overlay = AddOverlayFlags(command, &options->overlay, "jet");
  AddChoiceOption(command, "--overlay-scale", &options->overlay_scale, OverlayScaleChoices(),
                  "What red means in the overlays: per-map, each map's own maximum; shared, one "
                  "scale for the image's targets (a weak class's map drawn weak); fixed, "
                  "--overlay-scale-max",
                  "per-map")
      ->excludes(no_overlay);
  command
      ->add_option("--overlay-scale-max", options->overlay_scale_max,
                   "The raw value drawn red in every overlay (implies --overlay-scale fixed): "
                   "one scale across runs, e.g. a RAW PEAK printed before")
      ->check(CLI::PositiveNumber)
      ->excludes(no_overlay);
}

void CheckGradCamOptions(GradCamOptions* cam) {
  if (cam->overlay_scale_max > 0 && cam->overlay_scale == xai::v1::SCALE_PER_MAP) {
    cam->overlay_scale = xai::v1::SCALE_FIXED;
  }
  if (cam->overlay_scale == xai::v1::SCALE_FIXED && cam->overlay_scale_max <= 0) {
    throw CLI::ValidationError("--overlay-scale fixed",
                               "needs --overlay-scale-max, the raw value drawn red");
  }
  if (cam->overlay_scale == xai::v1::SCALE_SHARED && cam->overlay_scale_max > 0) {
    throw CLI::ValidationError("--overlay-scale-max",
                               "sets a fixed scale; it does not go with --overlay-scale shared");
  }
}

void SetupGradCam(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
    std::vector<std::string> images;
    GradCamOptions cam;
  };
  auto args = std::make_shared<Arguments>();
  auto* gradcam = app.add_subcommand(
      "gradcam", "Class activation maps of images, written as .npy maps and overlay PNGs");
  gradcam->add_option("MODEL", args->model, "Model name")->required();
  gradcam->add_option("IMAGE", args->images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  gradcam->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  AddGradCamOptions(gradcam, &args->cam);
  AddOutDirOption(gradcam, &args->cam.out_dir);
  gradcam->footer(
      "For image DIR/NAME.EXT and each target T, --out gets, with WHAT the method (and\n"
      "+eigen_smooth, +aug_smooth) and the layers explained, e.g. grad_cam_layer4:\n"
      "  NAME_WHAT_classT_cam.npy      float32 [H,W] in [0,1]: the map at the model input's\n"
      "                                size, scaled to its own maximum\n"
      "  NAME_WHAT_classT_raw.npy      float32 [h,w]: the first layer's map after ReLU, before\n"
      "                                scaling (its maximum is the map's raw peak)\n"
      "  NAME_WHAT_classT_overlay.png  the map as a heatmap over the image (not with\n"
      "                                --no-overlay)\n"
      "numpy.load reads the .npy files. Images with the same NAME get NAME_2, NAME_3, ...;\n"
      "other methods, layers and targets other names, so runs into one --out keep each other's\n"
      "files (a rerun of the same command replaces its own).\n"
      "The summary's CAM PEAK is the (x, y) of the map's maximum, in model input pixels; RAW\n"
      "PEAK the raw map's maximum, which the map's 1 stands for: compare it across targets,\n"
      "since every map is scaled to its own maximum; --overlay-scale shared draws the\n"
      "overlays of an image's targets on one scale instead (the .npy maps stay as they are).\n"
      "Under the table: the overlays' scale, and what the method's picture shows.\n"
      "With --metrics: DELETION AUC (lower is better), INSERTION AUC (higher is better) and\n"
      "TOP-20% P, the target's probability with only the map's top 20% of pixels kept.\n");
  gradcam->callback([&global, args] {
    CheckGradCamOptions(&args->cam);
    ExitWith(RunGradCam(global, args->model, args->version, args->images, args->cam));
  });
}

}  // namespace xai::client
