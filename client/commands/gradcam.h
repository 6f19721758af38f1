// xai gradcam: class activation maps of images, written as .npy maps and overlay PNGs.
#ifndef XAI_CLIENT_COMMANDS_GRADCAM_H_
#define XAI_CLIENT_COMMANDS_GRADCAM_H_

#include "client/common.h"

namespace xai::client {

// Adds `xai gradcam` and its options to `app`, with a callback that runs it against the
// server `global` names; `global` must outlive the parse.
void SetupGradCam(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_GRADCAM_H_
