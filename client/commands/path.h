// xai path: the chain of channels that carried a decision, as a diagram PNG and a JSON.
#ifndef XAI_CLIENT_COMMANDS_PATH_H_
#define XAI_CLIENT_COMMANDS_PATH_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai path` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupPath(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_PATH_H_
