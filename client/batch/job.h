// `xai batch RPC`: one shard of a data set explained through one or more servers, with
// calls in flight, retries, a progress bar and an index line per image (client/batch/index.h).
#ifndef XAI_CLIENT_BATCH_JOB_H_
#define XAI_CLIENT_BATCH_JOB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/commands/attribute.h"
#include "client/commands/gradcam.h"
#include "client/common.h"

namespace xai::client::batch {

// The RPCs a batch job makes.
enum class Rpc { kClassify, kGradCam, kAttribute, kPath };
const char* RpcName(Rpc rpc);

struct JobSettings {
  Rpc rpc = Rpc::kGradCam;
  std::string model;
  int64_t version = 0;
  std::string input;    // a directory, a list file or a .jsonl file (ListInputs)
  std::string out_dir;  // the images' files and the shard's index
  int shard = 0, shards = 1;
  int concurrency = 4;
  int retries = 8;          // further tries of a call refused as UNAVAILABLE, ... (0: none)
  double max_backoff = 10;  // seconds: the longest wait before a retry
  std::vector<std::string> servers;  // empty: the global --server
  // The RPC's options, as the single-image commands take them.
  int top_k = 5;
  GradCamOptions cam;
  AttributeOptions attribute;
  PathOptions path;
};

// Runs the job; prints the failed images on stderr, a progress bar on a terminal and the
// summary on stdout (JSON with --json). Returns 0 when every image of the shard is OK (done
// now or before), kExitFailure when any failed or the job stopped (an output that cannot be
// written, an unknown model), kExitUsage for a --target no class has.
int RunJob(const GlobalOptions& g, const JobSettings& settings);

// `xai batch merge DIR`: writes DIR/index.jsonl from the shards' indexes and prints counts.
int RunMerge(const GlobalOptions& g, const std::string& dir);

}  // namespace xai::client::batch

#endif  // XAI_CLIENT_BATCH_JOB_H_
