// xai stats: requests served per model version and method, with their mean times.
#include "client/commands/stats.h"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/output.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client {
namespace {

using json = nlohmann::json;

int RunStats(const GlobalOptions& g, const std::string& model, int64_t version) {
  auto stub = Connect(g);
  grpc::ClientContext context;
  PrepareCall(&context, g);
  xai::v1::ModelStatisticsRequest request;
  request.mutable_model()->set_name(model);
  request.mutable_model()->set_version(version);
  xai::v1::ModelStatisticsResponse response;
  const grpc::Status status = stub->ModelStatistics(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "xai stats: " << Describe(status, g) << "\n";
    return kExitFailure;
  }
  auto average_ms = [](uint64_t total_ns, uint64_t count) {
    return count == 0 ? std::string("-") : FormatFloat(total_ns / 1e6 / count, 2);
  };
  json models = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : response.models()) {
    json methods = json::array();
    for (const auto& s : m.methods()) {
      const uint64_t count = s.success_count() + s.failure_count();
      std::string batches;
      std::map<int32_t, uint64_t> sorted(s.batch_size_counts().begin(),
                                         s.batch_size_counts().end());
      json histogram = json::object();
      for (const auto& [size, n] : sorted) {
        batches += (batches.empty() ? "" : " ") + std::to_string(size) + ":" + std::to_string(n);
        histogram[std::to_string(size)] = n;
      }
      rows.push_back({m.model().name(), std::to_string(m.model().version()), s.method(),
                      std::to_string(s.success_count()), std::to_string(s.failure_count()),
                      average_ms(s.queue_ns(), count), average_ms(s.compute_ns(), count),
                      average_ms(s.total_ns(), count), batches.empty() ? "-" : batches});
      methods.push_back({{"method", s.method()},
                         {"success_count", s.success_count()},
                         {"failure_count", s.failure_count()},
                         {"queue_ns", s.queue_ns()},
                         {"compute_ns", s.compute_ns()},
                         {"total_ns", s.total_ns()},
                         {"batch_size_counts", histogram}});
    }
    models.push_back(
        {{"name", m.model().name()}, {"version", m.model().version()}, {"methods", methods}});
  }
  if (g.json) {
    std::cout << JsonText(json{{"models", models}}) << "\n";
    return 0;
  }
  PrintTable(stdout,
             {"MODEL", "VERSION", "METHOD", "OK", "FAILED", "QUEUE ms", "COMPUTE ms", "TOTAL ms",
              "BATCH SIZES"},
             rows);
  std::printf("(times are means per request; BATCH SIZES: size:executions)\n");
  return 0;
}

}  // namespace

void SetupStats(CLI::App& app, const GlobalOptions& global) {
  // What the command line sets; the callback reads it once parsing is done.
  struct Arguments {
    std::string model;
    int64_t version = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* stats = app.add_subcommand(
      "stats",
      "Requests served per model version and method: counts, mean queue/compute/total time, "
      "batches run by size");
  stats->add_option("MODEL", args->model, "Model name (none: every ready model)");
  stats->add_option("--version", args->version, "Model version (0: every ready version)")
      ->capture_default_str();
  stats->callback([&global, args] { ExitWith(RunStats(global, args->model, args->version)); });
}

}  // namespace xai::client
