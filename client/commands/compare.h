// xai compare: every CAM method on one image, as one PNG grid and a table of their
// faithfulness scores and times.
#ifndef XAI_CLIENT_COMMANDS_COMPARE_H_
#define XAI_CLIENT_COMMANDS_COMPARE_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai compare` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupCompare(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_COMPARE_H_
