#include "client/results.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>

#include "client/common.h"
#include "client/output.h"
#include "core/base/files.h"
#include "core/base/status.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

// "0.1234" and, with a random baseline, " (random 0.2345)".
std::string MetricCell(float value, bool random, float random_value) {
  return FormatFloat(value, 4) + (random ? " (random " + FormatFloat(random_value, 4) + ")" : "");
}

}  // namespace

bool WriteOutputFiles(const std::vector<OutputFile>& files, std::string* error) {
  for (const OutputFile& file : files) {
    if (const core::Status s = core::WriteFile(file.path, file.bytes); !s.ok()) {
      *error = s.message();
      return false;
    }
  }
  return true;
}

nlohmann::json ScoresJson(const xai::v1::FaithfulnessScores& s) {
  return {
      {"deletion_auc", s.deletion_auc()},
      {"insertion_auc", s.insertion_auc()},
      {"top20_probability", s.top20_probability()},
      {"deletion_curve", std::vector<float>(s.deletion_curve().begin(), s.deletion_curve().end())},
      {"insertion_curve",
       std::vector<float>(s.insertion_curve().begin(), s.insertion_curve().end())}};
}

std::string FileNamePart(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const bool kept =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-' || c == '_';
    if (!kept) c = '_';
  }
  return out;
}

std::string ExplanationFileBase(const std::string& out_dir, const std::string& prefix,
                                const std::string& what, int target) {
  return (std::filesystem::path(out_dir) /
          (prefix + "_" + what + "_class" + std::to_string(target)))
      .lexically_normal()
      .string();
}

std::vector<std::string> OutputPrefixes(const std::vector<std::string>& images) {
  std::set<std::string> taken;
  std::vector<std::string> out;
  for (const std::string& image : images) {
    const std::string stem = std::filesystem::path(image).stem().string();
    std::string prefix = stem;
    for (int n = 2; taken.count(prefix); ++n) prefix = stem + "_" + std::to_string(n);
    taken.insert(prefix);
    out.push_back(prefix);
  }
  return out;
}

void AddMetricsFlags(CLI::App* command, MetricsFlags* flags, const std::string& cost) {
  CLI::Option* metrics = command->add_flag(
      "--metrics", flags->metrics,
      "Score each map's faithfulness: deletion and insertion AUC over a blurred copy, and the "
      "target's probability with only the map's top 20% kept (docs/METHODS.md); " +
          cost);
  command
      ->add_option("--metrics-steps", flags->steps,
                   "Points of the deletion and insertion curves after the first, 1-256 (0: the "
                   "server's default, 16)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256))
      ->needs(metrics);
  command
      ->add_flag("--random-baseline", flags->random_baseline,
                 "Also score a random map (fixed seed), shown in parentheses, for scale")
      ->needs(metrics);
}

void SetMetrics(const MetricsFlags& flags, xai::v1::MetricsOptions* metrics) {
  if (!flags.metrics) return;
  metrics->set_enabled(true);
  metrics->set_steps(flags.steps);
  metrics->set_random_baseline(flags.random_baseline);
}

json MetricsJson(const xai::v1::FaithfulnessMetrics& m) {
  json out = {{"probability", m.probability()},
              {"blurred_probability", m.blurred_probability()},
              {"map", ScoresJson(m.map())}};
  if (m.has_random()) out["random"] = ScoresJson(m.random());
  return out;
}

std::vector<std::string> MetricCells(const xai::v1::FaithfulnessMetrics& m) {
  const bool random = m.has_random();
  return {MetricCell(m.map().deletion_auc(), random, m.random().deletion_auc()),
          MetricCell(m.map().insertion_auc(), random, m.random().insertion_auc()),
          MetricCell(m.map().top20_probability(), random, m.random().top20_probability())};
}

void PrintResultTable(std::vector<std::string> header, bool metrics,
                      const std::vector<std::vector<std::string>>& rows) {
  if (metrics) header.insert(header.end(), kMetricsHeader.begin(), kMetricsHeader.end());
  header.push_back("FILES");
  PrintTable(stdout, header, rows);
  std::printf("\n");
}

}  // namespace xai::client
