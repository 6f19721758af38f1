// What the explaining commands (gradcam, attribute, compare) share: output file names, the
// faithfulness flags with their JSON and table columns, and the per-image result table.
#ifndef XAI_CLIENT_RESULTS_H_
#define XAI_CLIENT_RESULTS_H_

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "xai/v1/explainer.pb.h"

namespace xai::client {

// A file name's part from a method or layer path: letters, digits, '.', '+' and '-' kept,
// anything else '_'.
std::string FileNamePart(const std::string& text);

// "<out_dir>/<prefix>_<what>_class<target>": the start of an explanation's file names, so
// that two methods, layers or targets never write the same file (gradcam of layer4 and
// attribute with integrated_gradients into one --out: star_3_grad_cam_layer4_class3_... and
// star_3_integrated_gradients_class3_...).
std::string ExplanationFileBase(const std::string& out_dir, const std::string& prefix,
                                const std::string& what, int target);

// File name prefixes, one per image: the image's stem, with _2, _3, ... for a stem already
// taken, so that cat.jpg and other/cat.png do not overwrite each other's files. Targets are
// numbers, so "<prefix>_<target>_..." cannot collide across prefixes either.
std::vector<std::string> OutputPrefixes(const std::vector<std::string>& images);

// A file a command writes: where, and its bytes.
struct OutputFile {
  std::string path;
  std::string bytes;
};
// Writes each file in turn; false with `error` (naming the file) at the first that fails.
bool WriteOutputFiles(const std::vector<OutputFile>& files, std::string* error);

// The faithfulness scores as --json writes them.
nlohmann::json ScoresJson(const xai::v1::FaithfulnessScores& scores);

// The faithfulness flags of gradcam and attribute.
struct MetricsFlags {
  bool metrics = false;
  int steps = 0;
  bool random_baseline = false;
};
// Adds --metrics, --metrics-steps and --random-baseline; `cost` completes --metrics' help.
void AddMetricsFlags(CLI::App* command, MetricsFlags* flags, const std::string& cost);
void SetMetrics(const MetricsFlags& flags, xai::v1::MetricsOptions* metrics);
// The metrics as --json writes them, and as the summary's DELETION AUC, INSERTION AUC and
// TOP-20% P cells (a random map's in parentheses).
nlohmann::json MetricsJson(const xai::v1::FaithfulnessMetrics& m);
std::vector<std::string> MetricCells(const xai::v1::FaithfulnessMetrics& m);
inline const std::vector<std::string> kMetricsHeader = {"DELETION AUC", "INSERTION AUC",
                                                        "TOP-20% P"};
// One image's summary table on stdout: `header`, then kMetricsHeader when `metrics`, then
// FILES (each row ends with its metric cells and files), and a blank line.
void PrintResultTable(std::vector<std::string> header, bool metrics,
                      const std::vector<std::vector<std::string>>& rows);

}  // namespace xai::client

#endif  // XAI_CLIENT_RESULTS_H_
