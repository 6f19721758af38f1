// xai compare: every CAM and attribution method on one image. Per method, one call with the
// overlay (timed, the median of --repeat) and one with the faithfulness metrics; the random
// baseline once. Attribution methods run with the server's defaults.
#include "client/commands/compare.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

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
  int target = -1;                   // -1: the top-1 class
  std::vector<std::string> methods;  // empty: every method
  int steps = 0;                     // 0: the server's 16
  int repeat = 3;
  int cell = 224;  // pixels of an overlay in the grid
  std::string out = "compare.png";
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

// A chart of the deletion (red) and insertion (green) curves, the random map's thin.
void Chart(cv::Mat& canvas, const cv::Rect& box, const xai::v1::FaithfulnessScores& scores,
           const xai::v1::FaithfulnessScores* random) {
  cv::rectangle(canvas, box, kGrey, 1);
  if (random != nullptr) {
    Curve(canvas, box, random->deletion_curve(), kDeletion, 1);
    Curve(canvas, box, random->insertion_curve(), kInsertion, 1);
  }
  Curve(canvas, box, scores.deletion_curve(), kDeletion, 2);
  Curve(canvas, box, scores.insertion_curve(), kInsertion, 2);
}

// The grid: a header with the image and the target; a row per method with its overlay, the
// scores and time under it, and its curves beside it; a legend.
cv::Mat RenderGrid(const cv::Mat& image, const std::string& title,
                   const std::vector<MethodRow>& rows, const xai::v1::FaithfulnessScores* random,
                   int cell) {
  const int pad = 12, text_band = 50, chart = cell, header = cell + 2 * pad + 30;
  const int width = pad + cell + pad + chart + pad;
  const int row_height = cell + text_band + pad;
  const int legend = random != nullptr ? 70 : 30;
  cv::Mat canvas(header + static_cast<int>(rows.size()) * row_height + legend, width, CV_8UC3,
                 kWhite);
  Text(canvas, title, pad, pad + 16, 0.5);
  Cell(image, cell).copyTo(canvas(cv::Rect(pad, pad + 30, cell, cell)));
  Text(canvas, "input", pad + cell + pad, pad + 30 + 16, 0.5, kGrey);
  int y = header;
  for (const MethodRow& row : rows) {
    Cell(row.overlay, cell).copyTo(canvas(cv::Rect(pad, y, cell, cell)));
    Text(canvas, row.name, pad, y + cell + 18, 0.5);
    if (!row.error.empty()) {
      Text(canvas, row.error.substr(0, 60), pad, y + cell + 38, 0.4, kDeletion);
    } else {
      Text(canvas,
           "del " + FormatFloat(row.scores.deletion_auc(), 3) + "  ins " +
               FormatFloat(row.scores.insertion_auc(), 3) + "  " +
               FormatFloat(row.milliseconds, 1) + " ms",
           pad, y + cell + 38, 0.45);
      Chart(canvas, cv::Rect(pad + cell + pad, y, chart, cell), row.scores, random);
    }
    y += row_height;
  }
  Text(canvas, "curves: deletion red, insertion green", pad, y + 14, 0.4, kGrey);
  if (random != nullptr) {
    Text(canvas, "thin: a random map,", pad, y + 34, 0.4, kGrey);
    Text(canvas,
         "del " + FormatFloat(random->deletion_auc(), 3) + "  ins " +
             FormatFloat(random->insertion_auc(), 3),
         pad, y + 54, 0.4, kGrey);
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
  for (const auto& [name, method] : CamMethodNames()) {
    if (name != "gradcam++" && wanted(name)) cams.emplace_back(name, method);  // not the alias
  }
  std::vector<std::pair<std::string, int>> attributions;
  for (const auto& [name, method] : LowerCaseEnumNames(xai::v1::AttributionMethod_descriptor())) {
    if (wanted(name)) attributions.emplace_back(name, method);
  }
  auto stub = Connect(g);
  xai::v1::GradCAMRequest cam_base;
  cam_base.mutable_model()->set_name(model);
  cam_base.mutable_image()->set_encoded(*bytes);
  if (!options.layer.empty()) cam_base.add_layers(options.layer);
  if (options.target >= 0) cam_base.add_target_classes(options.target);
  xai::v1::AttributeRequest attribution_base;
  *attribution_base.mutable_model() = cam_base.model();
  *attribution_base.mutable_image() = cam_base.image();
  if (options.target >= 0) attribution_base.add_target_classes(options.target);

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
  if (first.target >= 0) {
    const int target = first.target;
    title += ", class " + std::to_string(target);
    for (const auto& c : first.classes) {
      if (c.index() == target)
        title += " " + c.label() + " (p " + FormatFloat(c.probability(), 3) + ")";
    }
  }
  const cv::Mat input =
      cv::imdecode(std::vector<uchar>(bytes->begin(), bytes->end()), cv::IMREAD_COLOR);
  const cv::Mat grid =
      RenderGrid(input, title, rows, have_random ? &random : nullptr, options.cell);
  std::vector<uchar> png;
  if (!cv::imencode(".png", grid, png) ||
      !xai::core::WriteFile(options.out, std::string(png.begin(), png.end())).ok()) {
    std::cerr << "xai compare: cannot write " << options.out << "\n";
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
                {"grid", options.out},
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
  std::printf("grid written to %s\n", options.out.c_str());
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
  compare->add_option("--target", args->options.target, "Class index (none: the top-1 class)")
      ->check(CLI::NonNegativeNumber);
  std::vector<std::string> names;
  for (const auto& [name, method] : CamMethodNames()) {
    if (name != "gradcam++") names.push_back(name);
  }
  for (const auto& [name, method] : LowerCaseEnumNames(xai::v1::AttributionMethod_descriptor())) {
    names.push_back(name);
  }
  compare
      ->add_option("--methods", args->options.methods,
                   "Comma-separated methods, case-insensitive: CAM methods (grad_cam, ...) and "
                   "attribution methods (saliency, integrated_gradients, xrai, ...); none: all")
      ->delimiter(',')
      ->transform(CLI::IsMember(names, CLI::ignore_case));
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
  compare->add_option("--out", args->options.out, "The grid's PNG file")->capture_default_str();
  compare->footer(
      "Per method: --repeat calls with the overlay, timed from this client (the median shows,\n"
      "so the time includes the network and the overlay PNG), then one call with the\n"
      "faithfulness metrics (docs/METHODS.md) for the same target, which the time leaves out.\n"
      "Attribution methods run with the server's defaults (50 steps, 5 samples, the zero\n"
      "baseline; XRAI black and white) and their overlays' (positive, clipped at 99.9%).\n"
      "DELETION AUC: lower is better; INSERTION AUC: higher is better; the random map's\n"
      "scores come from the first method's metrics call, for scale. A method the server\n"
      "refuses for this model or layer shows its error and makes the exit status 1.\n");
  compare->callback(
      [&global, args] { ExitWith(RunCompare(global, args->model, args->image, args->options)); });
}

}  // namespace xai::client
