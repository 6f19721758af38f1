// xai admin: load, unload and reload models on a server run with --enable-admin
// (xai.v1.ModelAdmin), and list every version with its load.
#ifndef XAI_CLIENT_COMMANDS_ADMIN_H_
#define XAI_CLIENT_COMMANDS_ADMIN_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai admin load|unload|reload MODEL` and `xai admin list` to `app`; `global` must
// outlive the parse.
void SetupAdmin(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_ADMIN_H_
