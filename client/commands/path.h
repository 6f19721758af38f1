// xai path: the chain of channels that carried a decision, as a diagram PNG and a JSON.
#ifndef XAI_CLIENT_COMMANDS_PATH_H_
#define XAI_CLIENT_COMMANDS_PATH_H_

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/common.h"
#include "client/results.h"

namespace xai::client {

// Adds --target, the DecisionPath flags (AddPathOptions) and --top-chains.
void AddPathCommandOptions(CLI::App* command, PathOptions* options);
// The request's fields from `options` and the resolved target (none: the top-1 class), with
// the diagram asked for; not the model or image.
void FillPathRequest(const PathOptions& options, const std::vector<int>& targets,
                     xai::v1::DecisionPathRequest* request);
// The path of `response` as JSON: what the diagram shows, in numbers.
nlohmann::json PathJson(const xai::v1::DecisionPathResponse& response);
// The diagram and the JSON (not written): ExplanationFileBase(dir, prefix, "decision_path",
// target) + ".png" and ".json".
std::vector<OutputFile> PathFiles(const xai::v1::DecisionPathResponse& response,
                                  const std::string& dir, const std::string& prefix);

// Adds `xai path` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupPath(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_PATH_H_
