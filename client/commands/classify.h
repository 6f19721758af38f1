// xai classify: the class probabilities of images.
#ifndef XAI_CLIENT_COMMANDS_CLASSIFY_H_
#define XAI_CLIENT_COMMANDS_CLASSIFY_H_

#include <CLI/CLI.hpp>

#include "client/common.h"

namespace xai::client {

// Adds -k,--top-k: the classes per image (default 5 where *top_k holds it).
void AddTopKOption(CLI::App* command, int* top_k);

// Adds `xai classify` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupClassify(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_CLASSIFY_H_
