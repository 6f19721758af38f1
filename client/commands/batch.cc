// xai batch: a whole data set explained through the service, resumable and sharded.
#include "client/commands/batch.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client/batch/job.h"
#include "client/commands/attribute.h"
#include "client/commands/classify.h"
#include "client/commands/gradcam.h"
#include "client/commands/path.h"

namespace xai::client {
namespace {

using batch::JobSettings;
using batch::Rpc;

// "I/N" with 0 <= I < N as (I, N); "" on success, else why not.
std::string ParseShard(const std::string& text, int* shard, int* shards) {
  const size_t slash = text.find('/');
  auto number = [](const std::string& s, int* out) {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    *out = std::stoi(s);
    return true;
  };
  if (slash == std::string::npos || !number(text.substr(0, slash), shard) ||
      !number(text.substr(slash + 1), shards) || *shards < 1 || *shard >= *shards) {
    return "must be I/N with 0 <= I < N (e.g. 0/4, the first of four shards), not \"" + text + "\"";
  }
  return "";
}

// The shard from --shard, else from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX and
// XAI_BATCH_SHARDS (the Job's completions), else 0/1.
void SettleShard(const std::string& flag, JobSettings* s) {
  if (!flag.empty()) {
    ParseShard(flag, &s->shard, &s->shards);  // checked while parsing
    return;
  }
  const char* index = std::getenv("JOB_COMPLETION_INDEX");
  if (index == nullptr || *index == '\0') return;
  const char* shards = std::getenv("XAI_BATCH_SHARDS");
  if (shards == nullptr || *shards == '\0') {
    throw CLI::ValidationError(
        "JOB_COMPLETION_INDEX",
        "is set (a Kubernetes Indexed Job) but XAI_BATCH_SHARDS is not: set it to the Job's "
        "completions, or give --shard I/N");
  }
  const std::string text = std::string(index) + "/" + shards;
  if (const std::string error = ParseShard(text, &s->shard, &s->shards); !error.empty()) {
    throw CLI::ValidationError("JOB_COMPLETION_INDEX/XAI_BATCH_SHARDS", error);
  }
}

const char kFooter[] =
    "INPUT is a directory (every image under it, found by its first bytes, not its name;\n"
    "an --out inside it is left out), a list file (one path a line) or a .jsonl file, a JSON\n"
    "object a line: {\"image\": \"a/cat.jpg\", \"targets\": [3], \"method\": \"score_cam\",\n"
    "\"layers\": [\"layer4\"], \"id\": \"cat-score\"}, each key but image optional, overriding\n"
    "the flags for that image (id: its name, when one image is asked twice). Paths in a file\n"
    "are relative to the file's directory.\n"
    "Each image's files go to --out under its path relative to INPUT: a/cat.jpg gives\n"
    "OUT/a/cat.jpg_WHAT_classT_..., the files the single-image command writes. Each is written\n"
    "as NAME.partial and renamed; every second the lines of the images done go, once their\n"
    "files are on the disk (syncfs), to the shard's index,\n"
    "OUT/index.shard-I-of-N.jsonl: input, file, sha256, fingerprint (the request and the\n"
    "image's SHA-256), status (OK or the gRPC code) and error, model and version, classes,\n"
    "targets, the explanations with their metrics, files, request_id (the server's logs carry\n"
    "it), server, attempts, seconds, finished.\n"
    "A rerun skips each image whose line is OK with the same fingerprint, in any shard's\n"
    "index, and retries the others: a killed run loses nothing it recorded and repeats\n"
    "nothing. An image's shard is a hash of its relative path; each shard is one process;\n"
    "`xai batch merge OUT` writes OUT/index.jsonl, one line per image.\n"
    "UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED are retried, on another --server when one\n"
    "is up, waiting 0.2 s doubling up to --max-backoff (half of it random); other errors,\n"
    "a file that cannot be read or is not an image, are the image's line and the job goes\n"
    "on. An output that cannot be written stops the job at once, nothing half-written.\n"
    "Exit status: 0 every image of the shard OK, 1 any failed (or the job stopped), 2 usage.\n";

// Adds the flags every `xai batch RPC` takes and the RPC's own, as the single-image
// command takes them.
CLI::App* AddJobCommand(CLI::App* batch, const GlobalOptions& global, Rpc rpc,
                        const std::string& help) {
  struct Arguments {
    JobSettings job;
    std::string shard;
  };
  auto args = std::make_shared<Arguments>();
  args->job.rpc = rpc;
  CLI::App* command = batch->add_subcommand(batch::RpcName(rpc), help);
  command->add_option("MODEL", args->job.model, "Model name")->required();
  command
      ->add_option("INPUT", args->job.input,
                   "A directory of images, a list file (a path a line) or a .jsonl file")
      ->required()
      ->check(CLI::ExistingPath);
  command->add_option("--version", args->job.version, "Model version (0: newest ready)")
      ->capture_default_str();
  command->add_option("--out", args->job.out_dir, "Directory for the files and the indexes")
      ->type_name("DIR")
      ->required();
  command
      ->add_option("--shard", args->shard,
                   "This process's part of INPUT, I/N (0 <= I < N); default: a Kubernetes "
                   "Indexed Job's JOB_COMPLETION_INDEX/XAI_BATCH_SHARDS when set, else 0/1")
      ->check([](const std::string& value) {
        int shard = 0, shards = 0;
        return ParseShard(value, &shard, &shards);
      });
  command->add_option("--concurrency", args->job.concurrency, "Calls in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--server", args->job.servers,
                   "xai-server to call, host:port; repeat to spread the calls over several "
                   "(a dns:/// name is balanced over its addresses); default: xai's --server")
      ->allow_extra_args(false);
  command
      ->add_option("--retries", args->job.retries,
                   "Further tries of a call refused as UNAVAILABLE, RESOURCE_EXHAUSTED or "
                   "ABORTED")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  command
      ->add_option("--max-backoff", args->job.max_backoff,
                   "Longest wait before a retry, in seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  switch (rpc) {
    case Rpc::kClassify:
      AddTopKOption(command, &args->job.top_k);
      break;
    case Rpc::kGradCam:
      AddGradCamOptions(command, &args->job.cam);
      break;
    case Rpc::kAttribute:
      AddAttributeOptions(command, &args->job.attribute);
      break;
    case Rpc::kPath:
      AddPathCommandOptions(command, &args->job.path);
      break;
  }
  command->footer(kFooter);
  command->callback([&global, args] {
    if (args->job.rpc == Rpc::kGradCam) CheckGradCamOptions(&args->job.cam);
    SettleShard(args->shard, &args->job);
    ExitWith(batch::RunJob(global, args->job));
  });
  return command;
}

}  // namespace

void SetupBatch(CLI::App& app, const GlobalOptions& global) {
  CLI::App* batch =
      app.add_subcommand("batch",
                         "Explain a whole data set: resumable, sharded, an index line per image "
                         "(docs/CLI.md#xai-batch)");
  batch->require_subcommand(1);
  AddJobCommand(batch, global, Rpc::kClassify, "Class probabilities of every image");
  AddJobCommand(batch, global, Rpc::kGradCam,
                "Class activation maps of every image, as `xai gradcam` writes them");
  AddJobCommand(batch, global, Rpc::kAttribute,
                "Pixel attributions of every image, as `xai attribute` writes them");
  AddJobCommand(batch, global, Rpc::kPath,
                "The decision path of every image, as `xai path` writes it");
  auto dir = std::make_shared<std::string>();
  CLI::App* merge = batch->add_subcommand(
      "merge", "Write DIR/index.jsonl: one line per image from every shard's index");
  merge->add_option("DIR", *dir, "An `xai batch` --out directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->callback([&global, dir] { ExitWith(batch::RunMerge(global, *dir)); });
}

}  // namespace xai::client
