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
using json = nlohmann::json;

void FillAttributeRequest(const AttributeOptions& options, const std::vector<int>& targets,
                          xai::v1::AttributeRequest* request) {
  request->set_method(static_cast<xai::v1::AttributionMethod>(options.method));
  for (const int target : targets) request->add_target_classes(target);
  request->set_steps(options.steps);
  request->set_rule(static_cast<xai::v1::IntegrationRule>(options.rule));
  for (const int b : options.baselines) request->add_baselines(static_cast<xai::v1::Baseline>(b));
  request->set_seed(options.seed);
  request->set_batch_size(options.batch_size);
  request->set_max_approximation_error(options.max_error);
  request->set_samples(options.samples);
  request->set_noise_stdev(options.noise);
  request->set_noise_stdev_absolute(options.noise_absolute);
  request->set_smooth_grad_of(static_cast<xai::v1::AttributionMethod>(options.smooth_grad_of));
  SetOverlay(options.overlay, request->mutable_overlay());
  SetMetrics(options.metrics, request->mutable_metrics());
  if (!options.overlay.no_overlay) {
    xai::v1::AttributionStyle* style = request->mutable_overlay()->mutable_attribution();
    style->set_polarity(static_cast<xai::v1::AttributionPolarity>(options.polarity));
    style->set_clip_upper_percentile(options.clip_upper);
    style->set_clip_lower_percentile(options.clip_lower);
    style->set_kind(static_cast<xai::v1::AttributionOverlayKind>(options.overlay_kind));
    for (const float p : options.outlines) style->add_xrai_outlines(p);
  }
}

bool AttributeFiles(const xai::v1::AttributeResponse& response, const AttributeOptions& options,
                    const std::string& dir, const std::string& prefix, json* written,
                    std::vector<OutputFile>* files, std::string* error) {
  // The method in the file names (smooth_grad with what it smooths), so that another method
  // into the same --out never overwrites these files.
  std::string what = ChoiceName(AttributionMethodChoices(), options.method);
  if (options.method == xai::v1::SMOOTH_GRAD && options.smooth_grad_of != 0) {
    what += "+" + ChoiceName(AttributionMethodChoices(), options.smooth_grad_of);
  }
  for (const xai::v1::Attribution& a : response.attributions()) {
    const std::string base = ExplanationFileBase(dir, prefix, what, a.target_class());
    OutputFile attribution{base + "_attribution.npy", ""}, map{base + "_map.npy", ""};
    const std::string overlay_file = a.overlay_png().empty() ? "" : base + "_overlay.png";
    if (!NpyFloat32(attribution.path,
                    {a.attribution().shape().begin(), a.attribution().shape().end()},
                    a.attribution().data(), &attribution.bytes, error) ||
        !NpyFloat32(map.path, {a.map().shape().begin(), a.map().shape().end()}, a.map().data(),
                    &map.bytes, error)) {
      return false;
    }
    const bool integrates = a.steps() > 0;
    written->push_back(
        {{"target_class", a.target_class()},
         {"attribution", attribution.path},
         {"map", map.path},
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
    files->push_back(std::move(attribution));
    files->push_back(std::move(map));
    if (!overlay_file.empty()) files->push_back({overlay_file, a.overlay_png()});
  }
  return true;
}

namespace {

int RunAttribute(const GlobalOptions& g, const std::string& model, int64_t version,
                 const std::vector<std::string>& images, const AttributeOptions& options) {
  if (!MakeOutDir("attribute", options.out_dir)) return kExitFailure;
  xai::v1::AttributeRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  std::vector<int> targets;
  if (const int code = ResolveTargets(g, "attribute", model, version, options.targets, &targets)) {
    return code;
  }
  FillAttributeRequest(options, targets, &request);

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
        std::vector<OutputFile> files;
        std::string error;
        if (!AttributeFiles(response, options, options.out_dir, prefixes[i], &written, &files,
                            &error) ||
            !WriteOutputFiles(files, &error)) {
          return error;
        }
        std::vector<std::vector<std::string>> rows;
        for (int k = 0; k < response.attributions_size(); ++k) {
          const xai::v1::Attribution& a = response.attributions(k);
          const bool integrates = a.steps() > 0;
          const std::string attribution_file = written[k]["attribution"];
          const std::string map_file = written[k]["map"];
          const std::string overlay_file = a.overlay_png().empty() ? "" : written[k]["overlay"];
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

void AddAttributeOptions(CLI::App* command, AttributeOptions* options) {
  AddChoiceOption(command, "--method", &options->method, AttributionMethodChoices(),
                  "xrai: regions ranked by IG from black and white", "integrated_gradients");
  AddTargetOption(command, &options->targets, "repeat for several; none: the top-1 class");
  command
      ->add_option("--steps", options->steps,
                   "Integration steps (0: the server's default, 50); with --max-error, the cap "
                   "(0: 256)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option(
          "--max-error", options->max_error,
          "Adaptive Integrated Gradients (ig, xrai): raise the steps from 8 until ERROR is "
          "at most this (e.g. 0.05), the cap or the deadline; 0: fixed --steps")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  AddChoiceOption(command, "--rule", &options->rule,
                  EnumChoices(xai::v1::IntegrationRule_descriptor()),
                  "Integrated Gradients' quadrature", "gauss_legendre");
  AddChoiceOption(
      command, "--baseline", &options->baselines, EnumChoices(xai::v1::Baseline_descriptor()),
      "Repeat to average several (gradient_shap draws from them)", "zero; xrai: black and white")
      ->allow_extra_args(false);
  AddChoiceOption(command, "--smooth", &options->smooth_grad_of, AttributionMethodChoices(),
                  "What smooth_grad averages over noisy copies: saliency, input_x_gradient or "
                  "integrated_gradients",
                  "saliency");
  command
      ->add_option("--samples", options->samples,
                   "smooth_grad's noisy copies, gradient_shap's samples (0: the server's, 5)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  auto* noise = command
                    ->add_option("--noise", options->noise,
                                 "Gaussian noise's standard deviation as a fraction of the "
                                 "input's max - min (0: smooth_grad 0.15, gradient_shap none)")
                    ->capture_default_str()
                    ->check(CLI::Range(0.0f, 2.0f));
  command
      ->add_option("--noise-absolute", options->noise_absolute,
                   "The standard deviation in the model's input units instead (Captum's stdevs)")
      ->excludes(noise)
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--seed", options->seed,
                   "Seed of the noise, samples and uniform_noise baselines: same seed, same answer")
      ->capture_default_str();
  command
      ->add_option("--batch-size", options->batch_size,
                   "Points per forward and backward (0: the server's default, 32)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddMetricsFlags(command, &options->metrics,
                  "about 2 x steps more forwards per target, pixels ranked by the map");
  CLI::Option* no_overlay =
      AddOverlayFlags(command, &options->overlay, "jet; blue-white-red with --polarity both");
  AddChoiceOption(command, "--polarity", &options->polarity,
                  {{"positive", xai::v1::POLARITY_POSITIVE},
                   {"negative", xai::v1::POLARITY_NEGATIVE},
                   {"both", xai::v1::POLARITY_BOTH}},
                  "Which sign the overlay draws", "positive")
      ->excludes(no_overlay);
  command
      ->add_option("--clip", options->clip_upper,
                   "Percentile of the drawn values shown at full strength")
      ->capture_default_str()
      ->check(CLI::Range(0.001f, 100.0f))
      ->excludes(no_overlay);
  command
      ->add_option("--clip-lower", options->clip_lower,
                   "Percentile of the drawn values shown as nothing")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 99.999f))
      ->excludes(no_overlay);
  AddChoiceOption(command, "--overlay-kind", &options->overlay_kind,
                  EnumChoices(xai::v1::AttributionOverlayKind_descriptor()),
                  "masked_image: the rest goes black", "over_image")
      ->excludes(no_overlay);
  command
      ->add_option("--outline", options->outlines,
                   "xrai: outline the regions of the top PERCENT of pixels; repeat (default 10, "
                   "20, 30: white, yellow, cyan)")
      ->allow_extra_args(false)
      ->check(CLI::Range(0.001f, 100.0f))
      ->excludes(no_overlay);
}

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
  AddAttributeOptions(attribute, &args->options);
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
