// xai batch: a whole data set explained through the service, resumable and sharded
// (client/batch/).
#ifndef XAI_CLIENT_COMMANDS_BATCH_H_
#define XAI_CLIENT_COMMANDS_BATCH_H_

#include "client/common.h"

namespace xai::client {

// Adds `xai batch classify|gradcam|attribute|path` and `xai batch merge` to `app`, with
// callbacks that run them against the servers `global` names; `global` must outlive the
// parse.
void SetupBatch(CLI::App& app, const GlobalOptions& global);

}  // namespace xai::client

#endif  // XAI_CLIENT_COMMANDS_BATCH_H_
