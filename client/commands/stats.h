// xai stats: requests served per model version and method, with their mean times.
#ifndef XAI_CLIENT_COMMANDS_STATS_H_
#define XAI_CLIENT_COMMANDS_STATS_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai stats` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupStats(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_STATS_H_
