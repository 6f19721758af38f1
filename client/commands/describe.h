// xai describe: the input, labels and layers of a model.
#ifndef XAI_CLIENT_COMMANDS_DESCRIBE_H_
#define XAI_CLIENT_COMMANDS_DESCRIBE_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai describe` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupDescribe(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_DESCRIBE_H_
