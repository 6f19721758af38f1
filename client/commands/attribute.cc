// xai attribute: pixel attributions of images (the Attribute RPC), written as .npy arrays,
// with Integrated Gradients' approximation error in the summary.
#include "client/commands/attribute.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "client/npy.h"
#include "client/output.h"
#include "client/results.h"
#include "core/base/files.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

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

int RunAttribute(const GlobalOptions& g, const std::string& model, int64_t version,
                 const std::vector<std::string>& images, const AttributeOptions& options) {
  if (!MakeOutDir("attribute", options.out_dir)) return kExitFailure;
  xai::v1::AttributeRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  request.set_method(static_cast<xai::v1::AttributionMethod>(options.method));
  std::vector<int> targets;
  if (const int code = ResolveTargets(g, "attribute", model, version, options.targets, &targets)) {
    return code;
  }
  for (const int target : targets) request.add_target_classes(target);
  request.set_steps(options.steps);
  request.set_rule(static_cast<xai::v1::IntegrationRule>(options.rule));
  for (const int b : options.baselines) request.add_baselines(static_cast<xai::v1::Baseline>(b));
  request.set_seed(options.seed);
  request.set_batch_size(options.batch_size);
  request.set_max_approximation_error(options.max_error);
  request.set_samples(options.samples);
  request.set_noise_stdev(options.noise);
  request.set_noise_stdev_absolute(options.noise_absolute);
  request.set_smooth_grad_of(static_cast<xai::v1::AttributionMethod>(options.smooth_grad_of));
  SetOverlay(options.overlay, request.mutable_overlay());
  SetMetrics(options.metrics, request.mutable_metrics());
  if (!options.overlay.no_overlay) {
    xai::v1::AttributionStyle* style = request.mutable_overlay()->mutable_attribution();
    style->set_polarity(static_cast<xai::v1::AttributionPolarity>(options.polarity));
    style->set_clip_upper_percentile(options.clip_upper);
    style->set_clip_lower_percentile(options.clip_lower);
    style->set_kind(static_cast<xai::v1::AttributionOverlayKind>(options.overlay_kind));
    for (const float p : options.outlines) style->add_xrai_outlines(p);
  }

  // The method in the file names (smooth_grad with what it smooths), so that another method
  // into the same --out never overwrites these files.
  std::string what = ChoiceName(AttributionMethodChoices(), options.method);
  if (options.method == xai::v1::SMOOTH_GRAD && options.smooth_grad_of != 0) {
    what += "+" + ChoiceName(AttributionMethodChoices(), options.smooth_grad_of);
  }
  auto stub = Connect(g);
  const std::vector<std::string> prefixes = OutputPrefixes(images);
  json results = json::array();
  const int failures = ForEachImage(
      g, "attribute", images, &results, [&](size_t i, const std::string& path, std::string bytes) {
        request.mutable_image()->set_encoded(std::move(bytes));
        grpc::ClientContext context;
        PrepareCall(&context, g);
        xai::v1::AttributeResponse response;
        const grpc::Status status = stub->Attribute(&context, request, &response);
        if (!status.ok()) return Describe(status, g);
        json written = json::array();
        std::vector<std::vector<std::string>> rows;
        std::string error;
        for (const xai::v1::Attribution& a : response.attributions()) {
          const std::string base =
              ExplanationFileBase(options.out_dir, prefixes[i], what, a.target_class());
          const std::string attribution_file = base + "_attribution.npy";
          const std::string map_file = base + "_map.npy";
          const std::string overlay_file = a.overlay_png().empty() ? "" : base + "_overlay.png";
          if (!WriteNpyFloat32(attribution_file,
                               {a.attribution().shape().begin(), a.attribution().shape().end()},
                               a.attribution().data(), &error) ||
              !WriteNpyFloat32(map_file, {a.map().shape().begin(), a.map().shape().end()},
                               a.map().data(), &error)) {
            break;
          }
          if (!overlay_file.empty()) {
            if (const xai::core::Status s = xai::core::WriteFile(overlay_file, a.overlay_png());
                !s.ok()) {
              error = s.message();
              break;
            }
          }
          const bool integrates = a.steps() > 0;
          written.push_back(
              {{"target_class", a.target_class()},
               {"attribution", attribution_file},
               {"map", map_file},
               {"overlay", overlay_file.empty() ? json(nullptr) : json(overlay_file)},
               {"approximation_error", integrates ? json(a.approximation_error()) : json(nullptr)},
               {"logit", a.logit()},
               {"baseline_logit", integrates ? json(a.baseline_logit()) : json(nullptr)},
               {"convergence_delta", integrates ? json(a.convergence_delta()) : json(nullptr)},
               {"steps", a.steps()},
               {"approximation_error_met",
                options.max_error > 0 ? json(a.approximation_error_met()) : json(nullptr)},
               {"metrics", a.has_metrics() ? MetricsJson(a.metrics()) : json(nullptr)},
               {"warning", a.warning()}});
          std::string label = "-";
          for (const auto& c : response.classes()) {
            if (c.index() == a.target_class()) label = c.label();
          }
          std::vector<std::string> row = {
              "  " + std::to_string(a.target_class()), label, FormatFloat(a.logit(), 4),
              integrates ? FormatFloat(a.approximation_error(), 4) : "-",
              integrates ? std::to_string(a.steps()) : "-"};
          if (a.has_metrics()) {
            const std::vector<std::string> cells = MetricCells(a.metrics());
            row.insert(row.end(), cells.begin(), cells.end());
          }
          row.push_back(attribution_file + " " + map_file +
                        (overlay_file.empty() ? "" : " " + overlay_file) +
                        (a.warning().empty() ? "" : "  (" + a.warning() + ")"));
          rows.push_back(std::move(row));
        }
        if (!error.empty()) return error;
        if (g.json) {
          results.push_back(
              {{"image", path},
               {"model",
                {{"name", response.model().name()}, {"version", response.model().version()}}},
               {"classes", ClassesJson(response.classes())},
               {"attributions", written}});
          return std::string();
        }
        std::printf("%s  (model %s v%lld, %s)\n", path.c_str(), response.model().name().c_str(),
                    static_cast<long long>(response.model().version()),
                    xai::v1::AttributionMethod_Name(request.method()).c_str());
        PrintResultTable({"  TARGET", "LABEL", "LOGIT", "ERROR", "STEPS"}, options.metrics.metrics,
                         rows);
        return std::string();
      });
  if (g.json) {
    std::cout << JsonText(json{{"results", results}}) << "\n";
  } else if (failures < static_cast<int>(images.size())) {
    // What the pictures mean, once: the drawing's scale, and the method's legend from the
    // server's method table.
    if (!options.overlay.no_overlay) {
      const std::string sign = options.polarity == xai::v1::POLARITY_BOTH
                                   ? "both signs (red raised the score, blue lowered it)"
                               : options.polarity == xai::v1::POLARITY_NEGATIVE
                                   ? "what lowered the score"
                                   : "what raised the score";
      std::printf("%s",
                  Wrapped("scale:  ", "each overlay draws " + sign + ", from its " +
                                          FormatSignificant(options.clip_lower, 4) + "th to its " +
                                          FormatSignificant(options.clip_upper, 4) +
                                          "th percentile of magnitude (full strength above)")
                      .c_str());
    }
    const xai::v1::AttributionMethod method =
        request.method() == xai::v1::ATTRIBUTION_METHOD_UNSPECIFIED ? xai::v1::INTEGRATED_GRADIENTS
                                                                    : request.method();
    const std::string legend =
        MethodLegend(g, model, version, xai::v1::AttributionMethod_Name(method));
    if (!legend.empty()) std::printf("%s", Wrapped("legend: ", legend).c_str());
  }
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

void SetupAttribute(CLI::App& app, const GlobalOptions& global) {
  struct Arguments {
    std::string model;
    int64_t version = 0;
    std::vector<std::string> images;
    AttributeOptions options;
  };
  auto args = std::make_shared<Arguments>();
  auto* attribute = app.add_subcommand(
      "attribute", "Pixel attributions of images (Integrated Gradients, Saliency, ...), as .npy");
  attribute->add_option("MODEL", args->model, "Model name")->required();
  attribute->add_option("IMAGE", args->images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  attribute->add_option("--version", args->version, "Model version (0: newest ready)")
      ->capture_default_str();
  AddChoiceOption(attribute, "--method", &args->options.method, AttributionMethodChoices(),
                  "xrai: regions ranked by IG from black and white", "integrated_gradients");
  AddTargetOption(attribute, &args->options.targets, "repeat for several; none: the top-1 class");
  attribute
      ->add_option("--steps", args->options.steps,
                   "Integration steps (0: the server's default, 50); with --max-error, the cap "
                   "(0: 256)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  attribute
      ->add_option(
          "--max-error", args->options.max_error,
          "Adaptive Integrated Gradients (ig, xrai): raise the steps from 8 until ERROR is "
          "at most this (e.g. 0.05), the cap or the deadline; 0: fixed --steps")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  AddChoiceOption(attribute, "--rule", &args->options.rule,
                  EnumChoices(xai::v1::IntegrationRule_descriptor()),
                  "Integrated Gradients' quadrature", "gauss_legendre");
  AddChoiceOption(attribute, "--baseline", &args->options.baselines,
                  EnumChoices(xai::v1::Baseline_descriptor()),
                  "Repeat to average several (gradient_shap draws from them)",
                  "zero; xrai: black and white")
      ->allow_extra_args(false);
  AddChoiceOption(attribute, "--smooth", &args->options.smooth_grad_of, AttributionMethodChoices(),
                  "What smooth_grad averages over noisy copies: saliency, input_x_gradient or "
                  "integrated_gradients",
                  "saliency");
  attribute
      ->add_option("--samples", args->options.samples,
                   "smooth_grad's noisy copies, gradient_shap's samples (0: the server's, 5)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  auto* noise = attribute
                    ->add_option("--noise", args->options.noise,
                                 "Gaussian noise's standard deviation as a fraction of the "
                                 "input's max - min (0: smooth_grad 0.15, gradient_shap none)")
                    ->capture_default_str()
                    ->check(CLI::Range(0.0f, 2.0f));
  attribute
      ->add_option("--noise-absolute", args->options.noise_absolute,
                   "The standard deviation in the model's input units instead (Captum's stdevs)")
      ->excludes(noise)
      ->check(CLI::NonNegativeNumber);
  attribute
      ->add_option("--seed", args->options.seed,
                   "Seed of the noise, samples and uniform_noise baselines: same seed, same answer")
      ->capture_default_str();
  attribute
      ->add_option("--batch-size", args->options.batch_size,
                   "Points per forward and backward (0: the server's default, 32)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddMetricsFlags(attribute, &args->options.metrics,
                  "about 2 x steps more forwards per target, pixels ranked by the map");
  CLI::Option* no_overlay = AddOverlayFlags(attribute, &args->options.overlay,
                                            "jet; blue-white-red with --polarity both");
  AddChoiceOption(attribute, "--polarity", &args->options.polarity,
                  {{"positive", xai::v1::POLARITY_POSITIVE},
                   {"negative", xai::v1::POLARITY_NEGATIVE},
                   {"both", xai::v1::POLARITY_BOTH}},
                  "Which sign the overlay draws", "positive")
      ->excludes(no_overlay);
  attribute
      ->add_option("--clip", args->options.clip_upper,
                   "Percentile of the drawn values shown at full strength")
      ->capture_default_str()
      ->check(CLI::Range(0.001f, 100.0f))
      ->excludes(no_overlay);
  attribute
      ->add_option("--clip-lower", args->options.clip_lower,
                   "Percentile of the drawn values shown as nothing")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 99.999f))
      ->excludes(no_overlay);
  AddChoiceOption(attribute, "--overlay-kind", &args->options.overlay_kind,
                  EnumChoices(xai::v1::AttributionOverlayKind_descriptor()),
                  "masked_image: the rest goes black", "over_image")
      ->excludes(no_overlay);
  attribute
      ->add_option("--outline", args->options.outlines,
                   "xrai: outline the regions of the top PERCENT of pixels; repeat (default 10, "
                   "20, 30: white, yellow, cyan)")
      ->allow_extra_args(false)
      ->check(CLI::Range(0.001f, 100.0f))
      ->excludes(no_overlay);
  AddOutDirOption(attribute, &args->options.out_dir);
  attribute->footer(
      "For image DIR/NAME.EXT and each target T, --out gets, with METHOD the --method\n"
      "(smooth_grad+WHAT with --smooth):\n"
      "  NAME_METHOD_classT_attribution.npy  float32 [C,H,W]: the attribution in the model's\n"
      "                                      input space\n"
      "  NAME_METHOD_classT_map.npy          float32 [H,W]: its sum over channels, signed\n"
      "                                      (xrai: each pixel's region gain; higher first)\n"
      "  NAME_METHOD_classT_overlay.png      the map drawn over the image (not with\n"
      "                                      --no-overlay)\n"
      "ERROR is Integrated Gradients' |sum(attribution) - (f(x) - f(baseline))| /\n"
      "|f(x) - f(baseline)|, f the target's logit: raise --steps when it is above 0.05,\n"
      "or let --max-error 0.05 choose them (STEPS says how many it used).\n"
      "smooth_grad --noise 0.15 on an input spanning [-2.1, 2.6] is Captum's stdevs=0.7.\n");
  attribute->callback([&global, args] {
    ExitWith(RunAttribute(global, args->model, args->version, args->images, args->options));
  });
}

}  // namespace xai::client
