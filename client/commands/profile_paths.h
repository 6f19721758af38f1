// xai profile-paths: the class path library, built over a folder of images.
#ifndef XAI_CLIENT_COMMANDS_PROFILE_PATHS_H_
#define XAI_CLIENT_COMMANDS_PROFILE_PATHS_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai profile-paths` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupProfilePaths(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_PROFILE_PATHS_H_
