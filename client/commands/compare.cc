// xai compare: every CAM and attribution method on one image. Per method, one call with the
// overlay (timed, the median of --repeat) and one with the faithfulness metrics; the random
// baseline once. Attribution methods run with the server's defaults.
#include "client/commands/compare.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "client/choices.h"
#include "client/common.h"
#include "client/output.h"
#include "client/results.h"
#include "core/base/files.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

struct CompareOptions {
  std::string layer;                 // "": the model's default CAM layer
  std::string target;                // an index or a label; "": the top-1 class
  std::vector<std::string> methods;  // empty: every method
  int steps = 0;                     // 0: the server's 16
  int repeat = 3;
  int cell = 224;  // pixels of an overlay in the grid
  std::string out_dir = ".";
  std::string out_file;  // "": <out_dir>/NAME_compare_classT.png
};

struct MethodRow {
  std::string name;   // GRAD_CAM, ...
  std::string error;  // the call's failure; the other fields are then unset
  double milliseconds = 0;
  cv::Mat overlay;
  xai::v1::FaithfulnessScores scores;
};

const cv::Scalar kInk(30, 30, 30), kGrey(150, 150, 150), kDeletion(40, 40, 200),
    kInsertion(40, 150, 40), kWhite(255, 255, 255);

void Text(cv::Mat& canvas, const std::string& text, int x, int y, double scale,
          const cv::Scalar& color = kInk) {
  cv::putText(canvas, text, {x, y}, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

// `image` scaled into a cell x cell square, centred on white.
cv::Mat Cell(const cv::Mat& image, int cell) {
  cv::Mat out(cell, cell, CV_8UC3, kWhite);
  if (image.empty()) return out;
  const double scale =
      std::min(static_cast<double>(cell) / image.cols, static_cast<double>(cell) / image.rows);
  cv::Mat resized;
  cv::resize(image, resized, {}, scale, scale, scale > 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
  resized.copyTo(out(
      cv::Rect((cell - resized.cols) / 2, (cell - resized.rows) / 2, resized.cols, resized.rows)));
  return out;
}

// The curve's points over [0,1] x [0,1] in `box`.
void Curve(cv::Mat& canvas, const cv::Rect& box,
           const google::protobuf::RepeatedField<float>& curve, const cv::Scalar& color,
           int thickness) {
  if (curve.size() < 2) return;
  std::vector<cv::Point> points;
  for (int k = 0; k < curve.size(); ++k) {
    const double x = static_cast<double>(k) / (curve.size() - 1);
    const double y = std::clamp(static_cast<double>(curve[k]), 0.0, 1.0);
    points.emplace_back(box.x + static_cast<int>(x * box.width),
                        box.y + box.height - static_cast<int>(y * box.height));
  }
  cv::polylines(canvas, points, false, color, thickness, cv::LINE_AA);
}

// A chart of the deletion (red) and insertion (green) curves, the random map's thin, in
// `box` with its axes labelled: the target's probability (0 to 1) over the share of pixels
// removed (deletion) or inserted (insertion), most important first.
void Chart(cv::Mat& canvas, const cv::Rect& box, const xai::v1::FaithfulnessScores& scores,
           const xai::v1::FaithfulnessScores* random) {
  const int left = 26, bottom = 16;
  const cv::Rect plot(box.x + left, box.y + 4, box.width - left - 6, box.height - bottom - 8);
  for (const double v : {0.0, 0.5, 1.0}) {
    const int y = plot.y + plot.height - static_cast<int>(v * plot.height);
    cv::line(canvas, {plot.x, y}, {plot.x + plot.width, y}, cv::Scalar(225, 225, 225), 1);
    Text(canvas, FormatFloat(v, v == 0.5 ? 1 : 0), box.x + 2, y + 4, 0.33, kGrey);
    const int x = plot.x + static_cast<int>(v * plot.width);
    Text(canvas, v == 0 ? "0" : (v == 1 ? "100%" : "50%"),
         x - (v == 1   ? 26
              : v == 0 ? 2
                       : 10),
         plot.y + plot.height + 13, 0.33, kGrey);
  }
  cv::rectangle(canvas, plot, kGrey, 1);
  if (random != nullptr) {
    Curve(canvas, plot, random->deletion_curve(), kDeletion, 1);
    Curve(canvas, plot, random->insertion_curve(), kInsertion, 1);
  }
  Curve(canvas, plot, scores.deletion_curve(), kDeletion, 2);
  Curve(canvas, plot, scores.insertion_curve(), kInsertion, 2);
}

// The grid: a header with the image, the target and what the scales mean; then the methods
// in rows of up to five tiles, each its name, its overlay, its curves with labelled axes
// and its scores and time.
cv::Mat RenderGrid(const cv::Mat& image, const std::vector<std::string>& title,
                   const std::vector<MethodRow>& rows, const xai::v1::FaithfulnessScores* random,
                   int cell) {
  const int pad = 14, name_band = 22, chart = cell * 3 / 5, score_band = 20;
  const int columns = std::max(1, std::min<int>(5, static_cast<int>(rows.size())));
  const int grid_rows = (static_cast<int>(rows.size()) + columns - 1) / columns;
  const int tile_w = cell, tile_h = name_band + cell + chart + score_band;
  const int header = pad + cell + pad;
  const int width = std::max(pad + columns * (tile_w + pad), pad + cell + pad + 520);
  cv::Mat canvas(header + grid_rows * (tile_h + pad) + pad, width, CV_8UC3, kWhite);
  Cell(image, cell).copyTo(canvas(cv::Rect(pad, pad, cell, cell)));
  int line = pad + 18;
  const int text_x = pad + cell + pad;
  for (size_t i = 0; i < title.size(); ++i, line += 22) {
    Text(canvas, title[i], text_x, line, i == 0 ? 0.55 : 0.45, i == 0 ? kInk : kGrey);
  }
  line += 8;
  cv::line(canvas, {text_x, line - 4}, {text_x + 24, line - 4}, kDeletion, 2);
  Text(canvas, "deletion: p as the most important pixels go (lower area is better)", text_x + 30,
       line, 0.4, kInk);
  line += 20;
  cv::line(canvas, {text_x, line - 4}, {text_x + 24, line - 4}, kInsertion, 2);
  Text(canvas, "insertion: p as they come back over a blurred copy (higher is better)", text_x + 30,
       line, 0.4, kInk);
  if (random != nullptr) {
    line += 20;
    cv::line(canvas, {text_x, line - 4}, {text_x + 24, line - 4}, kGrey, 1);
    Text(canvas,
         "thin: a random map's curves (del " + FormatFloat(random->deletion_auc(), 3) + ", ins " +
             FormatFloat(random->insertion_auc(), 3) + "), for scale",
         text_x + 30, line, 0.4, kInk);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const MethodRow& row = rows[i];
    const int x = pad + static_cast<int>(i % columns) * (tile_w + pad);
    const int y = header + static_cast<int>(i / columns) * (tile_h + pad);
    Text(canvas, row.name, x, y + 15, 0.45);
    Cell(row.overlay, cell).copyTo(canvas(cv::Rect(x, y + name_band, cell, cell)));
    const int below = y + name_band + cell;
    if (!row.error.empty()) {
      // The refusal's start, in lines that fit the tile.
      const size_t per_line = static_cast<size_t>(std::max(8, cell / 7));
      for (size_t k = 0, l = 0; k < row.error.size() && l < 5; k += per_line, ++l) {
        Text(canvas, row.error.substr(k, per_line), x, below + 16 + static_cast<int>(l) * 16, 0.35,
             kDeletion);
      }
      continue;
    }
    Chart(canvas, cv::Rect(x, below, cell, chart), row.scores, random);
    Text(canvas,
         "del " + FormatFloat(row.scores.deletion_auc(), 3) + "  ins " +
             FormatFloat(row.scores.insertion_auc(), 3) + "  " + FormatFloat(row.milliseconds, 0) +
             " ms",
         x, below + chart + 14, 0.4);
  }
  return canvas;
}

// A compare call's options: the overlay, or the metrics (with the random map when
// `random`) for `target`. GradCAM and Attribute requests share these fields' names.
template <typename Request>
void SetCompareOptions(bool metrics, int target, bool random, int steps, Request* request) {
  if (!metrics) {
    request->mutable_overlay()->set_enabled(true);
    return;
  }
  request->clear_target_classes();
  request->add_target_classes(target);
  request->mutable_metrics()->set_enabled(true);
  request->mutable_metrics()->set_steps(steps);
  request->mutable_metrics()->set_random_baseline(random);
}

int RunCompare(const GlobalOptions& g, const std::string& model, const std::string& image_path,
               const CompareOptions& options) {
  xai::core::StatusOr<std::string> bytes = xai::core::ReadFile(image_path);
  if (!bytes.ok()) {
    std::cerr << "xai compare: " << bytes.status().message() << "\n";
    return kExitFailure;
  }
  // Every CAM method, then every attribution method (those --methods names).
  auto wanted = [&options](const std::string& name) {
    return options.methods.empty() ||
           std::find(options.methods.begin(), options.methods.end(), name) != options.methods.end();
  };
  std::vector<std::pair<std::string, xai::v1::CamMethod>> cams;
  for (const Choice& c : CamMethodChoices()) {
    if (wanted(c.name)) cams.emplace_back(c.name, static_cast<xai::v1::CamMethod>(c.value));
  }
  std::vector<std::pair<std::string, int>> attributions;
  for (const Choice& c : AttributionMethodChoices()) {
    if (wanted(c.name)) attributions.emplace_back(c.name, c.value);
  }
  int target = -1;
  if (!options.target.empty()) {
    std::vector<int> targets;
    if (const int code = ResolveTargets(g, "compare", model, 0, {options.target}, &targets)) {
      return code;
    }
    target = targets.front();
  }
  auto stub = Connect(g);
  xai::v1::GradCAMRequest cam_base;
  cam_base.mutable_model()->set_name(model);
  cam_base.mutable_image()->set_encoded(*bytes);
  if (!options.layer.empty()) cam_base.add_layers(options.layer);
  if (target >= 0) cam_base.add_target_classes(target);
  xai::v1::AttributeRequest attribution_base;
  *attribution_base.mutable_model() = cam_base.model();
  *attribution_base.mutable_image() = cam_base.image();
  if (target >= 0) attribution_base.add_target_classes(target);

  // One method's answer: its first explanation's target, overlay and metrics.
  struct Answer {
    int target = -1;
    std::string overlay_png;
    xai::v1::FaithfulnessMetrics metrics;
    google::protobuf::RepeatedPtrField<xai::v1::ClassScore> classes;
  };
  // Calls a method: with the overlay (metrics off) or with the metrics for `target`.
  using Call = std::function<grpc::Status(bool metrics, int target, bool random, Answer*)>;
  auto cam_call = [&](xai::v1::CamMethod method) -> Call {
    return [&, method](bool metrics, int target, bool random, Answer* answer) {
      xai::v1::GradCAMRequest request = cam_base;
      request.set_method(method);
      SetCompareOptions(metrics, target, random, options.steps, &request);
      grpc::ClientContext context;
      PrepareCall(&context, g);
      xai::v1::GradCAMResponse response;
      const grpc::Status status = stub->GradCAM(&context, request, &response);
      if (status.ok()) {
        const xai::v1::Explanation& e = response.explanations(0);
        *answer = {e.target_class(), e.overlay_png(), e.metrics(), response.classes()};
      }
      return status;
    };
  };
  auto attribution_call = [&](int method) -> Call {
    return [&, method](bool metrics, int target, bool random, Answer* answer) {
      xai::v1::AttributeRequest request = attribution_base;
      request.set_method(static_cast<xai::v1::AttributionMethod>(method));
      SetCompareOptions(metrics, target, random, options.steps, &request);
      grpc::ClientContext context;
      PrepareCall(&context, g);
      xai::v1::AttributeResponse response;
      const grpc::Status status = stub->Attribute(&context, request, &response);
      if (status.ok()) {
        const xai::v1::Attribution& a = response.attributions(0);
        *answer = {a.target_class(), a.overlay_png(), a.metrics(), response.classes()};
      }
      return status;
    };
  };
  std::vector<std::pair<std::string, Call>> calls;
  for (const auto& [name, method] : cams)
    calls.emplace_back(xai::v1::CamMethod_Name(method), cam_call(method));
  for (const auto& [name, method] : attributions) {
    calls.emplace_back(
        xai::v1::AttributionMethod_Name(static_cast<xai::v1::AttributionMethod>(method)),
        attribution_call(method));
  }

  std::vector<MethodRow> rows;
  xai::v1::FaithfulnessScores random;
  bool have_random = false;
  Answer first;  // the classes, from the first answer
  ProgressBar progress("compare", static_cast<int>(calls.size()));
  for (const auto& [name, call] : calls) {
    MethodRow row;
    row.name = name;
    std::vector<double> times;
    Answer answer;
    for (int r = 0; r < options.repeat && row.error.empty(); ++r) {
      const auto start = std::chrono::steady_clock::now();
      const grpc::Status status = call(false, -1, false, &answer);
      times.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      if (!status.ok()) row.error = Describe(status, g);
    }
    if (row.error.empty()) {
      std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
      row.milliseconds = times[times.size() / 2];
      const std::string& png = answer.overlay_png;
      row.overlay = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
      if (first.target < 0) first = answer;
      // The metrics, in a call of their own so that they do not count in the time; the
      // same target as the timed call, and the random baseline once.
      Answer scored;
      const grpc::Status status = call(true, answer.target, !have_random, &scored);
      if (!status.ok()) {
        row.error = Describe(status, g);
      } else {
        row.scores = scored.metrics.map();
        if (scored.metrics.has_random()) random = scored.metrics.random(), have_random = true;
      }
    }
    progress.Step(row.name);
    rows.push_back(std::move(row));
  }

  std::string title = model;
  std::string target_line = "target: the top-1 class";
  if (first.target >= 0) {
    const int target = first.target;
    title += ", class " + std::to_string(target);
    target_line = "target: class " + std::to_string(target);
    for (const auto& c : first.classes) {
      if (c.index() == target) {
        title += " " + c.label() + " (p " + FormatFloat(c.probability(), 3) + ")";
        target_line += (c.label().empty() ? "" : " " + c.label()) + ", probability " +
                       FormatFloat(c.probability(), 3);
      }
    }
  }
  const std::vector<std::string> header = {
      model + ": " + std::filesystem::path(image_path).filename().string(), target_line,
      "each overlay scaled to its own map's maximum (jet: blue low, red high);",
      "attributions: positive part, clipped at the 99.9th percentile"};
  const cv::Mat input =
      cv::imdecode(std::vector<uchar>(bytes->begin(), bytes->end()), cv::IMREAD_COLOR);
  const cv::Mat grid =
      RenderGrid(input, header, rows, have_random ? &random : nullptr, options.cell);
  std::string grid_file = options.out_file;
  if (grid_file.empty()) {
    if (!MakeOutDir("compare", options.out_dir)) return kExitFailure;
    const std::string stem = std::filesystem::path(image_path).stem().string();
    grid_file = first.target >= 0
                    ? ExplanationFileBase(options.out_dir, stem, "compare", first.target) + ".png"
                    : (std::filesystem::path(options.out_dir) / (stem + "_compare.png"))
                          .lexically_normal()
                          .string();
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", grid, png)) {
    std::cerr << "xai compare: cannot encode the grid\n";
    return kExitFailure;
  }
  if (const xai::core::Status s =
          xai::core::WriteFile(grid_file, std::string(png.begin(), png.end()));
      !s.ok()) {
    std::cerr << "xai compare: " << s.message() << "\n";
    return kExitFailure;
  }

  int failures = 0;
  for (const MethodRow& row : rows) failures += !row.error.empty();
  if (g.json) {
    json table = json::array();
    for (const MethodRow& row : rows) {
      json entry = {{"method", row.name}};
      if (!row.error.empty()) {
        entry["error"] = row.error;
      } else {
        entry["milliseconds"] = row.milliseconds;
        entry["metrics"] = ScoresJson(row.scores);
      }
      table.push_back(entry);
    }
    json out = {{"model", model},
                {"image", image_path},
                {"grid", grid_file},
                {"target_class", first.target >= 0 ? json(first.target) : json(nullptr)},
                {"methods", table},
                {"random", have_random ? ScoresJson(random) : json(nullptr)}};
    std::cout << JsonText(out) << "\n";
    return failures == 0 ? 0 : kExitFailure;
  }
  std::printf("%s  (%s)\n", image_path.c_str(), title.c_str());
  std::vector<std::vector<std::string>> table;
  for (const MethodRow& row : rows) {
    if (!row.error.empty()) {
      table.push_back({"  " + row.name, "-", "-", "-", "-", row.error});
      continue;
    }
    table.push_back({"  " + row.name, FormatFloat(row.milliseconds, 1),
                     FormatFloat(row.scores.deletion_auc(), 4),
                     FormatFloat(row.scores.insertion_auc(), 4),
                     FormatFloat(row.scores.top20_probability(), 4), ""});
  }
  if (have_random) {
    table.push_back({"  (random map)", "-", FormatFloat(random.deletion_auc(), 4),
                     FormatFloat(random.insertion_auc(), 4),
                     FormatFloat(random.top20_probability(), 4), ""});
  }
  PrintTable(stdout, {"  METHOD", "TIME MS", "DELETION AUC", "INSERTION AUC", "TOP-20% P", "ERROR"},
             table);
  std::printf("grid written to %s\n", grid_file.c_str());
  return failures == 0 ? 0 : kExitFailure;
}

}  // namespace

void SetupCompare(CLI::App& app, const GlobalOptions& global) {
  struct Arguments {
    std::string model;
    std::string image;
    CompareOptions options;
  };
  auto args = std::make_shared<Arguments>();
  auto* compare = app.add_subcommand(
      "compare",
      "Every CAM and attribution method on one image: a PNG grid of the overlays with their "
      "faithfulness scores and times, and a table");
  compare->add_option("MODEL", args->model, "Model name")->required();
  compare->add_option("IMAGE", args->image, "Image file (JPEG, PNG, BMP, WebP, TIFF, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  compare->add_option("--layer", args->options.layer,
                      "Module path to explain (none: the model's default CAM layer)");
  AddTargetOption(compare, &args->options.target, "none: the top-1 class");
  std::vector<Choice> methods = CamMethodChoices();
  for (Choice& c : AttributionMethodChoices()) methods.push_back(std::move(c));
  compare
      ->add_option("--methods", args->options.methods,
                   "Comma-separated methods, case-insensitive; none: all. CAM methods: " +
                       ChoiceList(CamMethodChoices()) +
                       ". Attribution methods: " + ChoiceList(AttributionMethodChoices()))
      ->type_name("NAME,...")
      ->delimiter(',')
      ->transform(ChoiceTransform(methods, /*to_number=*/false));
  compare
      ->add_option("--metrics-steps", args->options.steps,
                   "Steps of the deletion and insertion curves, 1-256 (0: the server's 16)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  compare->add_option("--repeat", args->options.repeat, "Timed calls per method; the median shows")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  compare->add_option("--cell", args->options.cell, "Pixels of an overlay in the grid")
      ->capture_default_str()
      ->check(CLI::Range(64, 1024));
  CLI::Option* out_dir = AddOutDirOption(compare, &args->options.out_dir, ".png");
  AddOutFileOption(compare, &args->options.out_file, out_dir,
                   "The grid's PNG file instead of --out's NAME_compare_classT.png");
  compare->footer(
      "Per method: --repeat calls with the overlay, timed from this client (the median shows,\n"
      "so the time includes the network and the overlay PNG), then one call with the\n"
      "faithfulness metrics (docs/METHODS.md) for the same target, which the time leaves out.\n"
      "Attribution methods run with the server's defaults (50 steps, 5 samples, the zero\n"
      "baseline; XRAI black and white) and their overlays' (positive, clipped at 99.9%).\n"
      "DELETION AUC: lower is better; INSERTION AUC: higher is better; the random map's\n"
      "scores come from the first method's metrics call, for scale. A method the server\n"
      "refuses for this model or layer shows its error and makes the exit status 1.\n"
      "The grid goes to --out as NAME_compare_classT.png (image NAME, target T), or to\n"
      "--out-file.\n");
  compare->callback(
      [&global, args] { ExitWith(RunCompare(global, args->model, args->image, args->options)); });
}

}  // namespace xai::client
