// xai models: every model version the server knows and its state.
#ifndef XAI_CLIENT_COMMANDS_MODELS_H_
#define XAI_CLIENT_COMMANDS_MODELS_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai models` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupModels(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_MODELS_H_
