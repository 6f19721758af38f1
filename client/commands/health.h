// xai health [MODEL]: whether the server, or one model, is SERVING (grpc.health.v1), for
// people and for container health checks.
#ifndef XAI_CLIENT_COMMANDS_HEALTH_H_
#define XAI_CLIENT_COMMANDS_HEALTH_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai health` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupHealth(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_HEALTH_H_
