// xai attribute: pixel attributions of images, written as .npy arrays.
#ifndef XAI_CLIENT_COMMANDS_ATTRIBUTE_H_
#define XAI_CLIENT_COMMANDS_ATTRIBUTE_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds `xai attribute` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupAttribute(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_ATTRIBUTE_H_
