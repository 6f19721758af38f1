#include "client/batch/job.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpc/grpc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/batch/index.h"
#include "client/batch/inputs.h"
#include "client/choices.h"
#include "client/commands/path.h"
#include "client/output.h"
#include "client/results.h"
#include "core/base/files.h"
#include "core/base/status.h"
#include "core/base/strings.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace xai::client::batch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Failed images printed on stderr before the rest are left to the index.
constexpr int kPrintedFailures = 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// 0.2 s doubling with `n` (1, 2, ...), up to `cap` seconds.
double Doubling(int n, double cap) {
  return std::min(cap, 0.2 * static_cast<double>(1ull << std::min(n - 1, 20)));
}

// The wait before retry `attempt` (1, 2, ...): Doubling, half of it random so that
// clients refused together do not return together.
double Backoff(int attempt, double cap) {
  thread_local std::mt19937 random(std::random_device{}());
  const double full = Doubling(attempt, cap);
  return full / 2 + std::uniform_real_distribution<double>(0, full / 2)(random);
}

// A server to call, with its calls in flight and, after UNAVAILABLE, when to try it again.
struct Endpoint {
  GlobalOptions g;  // --server is this one (Describe's hints name it)
  std::unique_ptr<xai::v1::Explainer::Stub> stub;
  std::atomic<int> in_flight{0};
  std::mutex mutex;           // the two below
  int64_t down_until_ms = 0;  // after UNAVAILABLE: left out until then
  int failures = 0;           // UNAVAILABLE answers in a row

  int64_t DownUntil() {
    std::lock_guard<std::mutex> lock(mutex);
    return down_until_ms;
  }
  // UNAVAILABLE: left out for Doubling(failures in a row, `cap`);
  // a window only grows (callers failing together do not shorten each other's).
  void Failed(double cap) {
    std::lock_guard<std::mutex> lock(mutex);
    failures = std::min(failures + 1, 30);
    down_until_ms =
        std::max(down_until_ms, NowMs() + static_cast<int64_t>(Doubling(failures, cap) * 1000));
  }
  void Answered() {
    std::lock_guard<std::mutex> lock(mutex);
    failures = 0;
  }
};

class Endpoints {
 public:
  Endpoints(const GlobalOptions& g, const std::vector<std::string>& servers) {
    for (const std::string& server : servers) {
      auto e = std::make_unique<Endpoint>();
      e->g = g;
      e->g.server = server;
      grpc::ChannelArguments args;
      // A dns:/// name with several addresses: each gets calls in turn.
      args.SetLoadBalancingPolicyName("round_robin");
      // A restarted server is called again within a second, not after gRPC's default
      // reconnect backoff of up to two minutes.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      e->stub = xai::v1::Explainer::NewStub(OpenChannel(e->g, args));
      list_.push_back(std::move(e));
    }
  }

  // The server to call next: among those not marked down, the one with the fewest calls in
  // flight, `avoid` (where the last try failed) only when it is the only one; when all are
  // down, the one back soonest.
  Endpoint* Pick(const Endpoint* avoid) {
    const int64_t now = NowMs();
    Endpoint* best = nullptr;
    auto better = [&](Endpoint* e) {
      if (best == nullptr) return true;
      const bool e_up = e->DownUntil() <= now, best_up = best->DownUntil() <= now;
      if (e_up != best_up) return e_up;
      if (!e_up) return e->DownUntil() < best->DownUntil();
      if ((e == avoid) != (best == avoid)) return best == avoid;
      return e->in_flight < best->in_flight;
    };
    for (auto& e : list_) {
      if (better(e.get())) best = e.get();
    }
    return best;
  }

  bool AllDown() const {
    const int64_t now = NowMs();
    return std::all_of(list_.begin(), list_.end(),
                       [now](const auto& e) { return e->DownUntil() > now; });
  }

 private:
  std::vector<std::unique_ptr<Endpoint>> list_;
};

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::ABORTED;
}

// One image's request: the RPC's message, filled from the settings and the image's own
// options.
struct Request {
  xai::v1::ClassifyRequest classify;
  xai::v1::GradCAMRequest gradcam;
  xai::v1::AttributeRequest attribute;
  xai::v1::DecisionPathRequest path;
  GradCamOptions cam;
  AttributeOptions attribution;
  PathOptions path_options;
};

struct Response {
  xai::v1::ClassifyResponse classify;
  xai::v1::GradCAMResponse gradcam;
  xai::v1::AttributeResponse attribute;
  xai::v1::DecisionPathResponse path;
};

const google::protobuf::Message& Message(Rpc rpc, const Request& r) {
  switch (rpc) {
    case Rpc::kClassify:
      return r.classify;
    case Rpc::kGradCam:
      return r.gradcam;
    case Rpc::kAttribute:
      return r.attribute;
    case Rpc::kPath:
      break;
  }
  return r.path;
}

// What is asked, as bytes that are equal exactly when the requests are: the message's
// deterministic serialization (the image left out: its SHA-256 stands for it).
std::string RequestBytes(Rpc rpc, const Request& r) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    Message(rpc, r).SerializeToCodedStream(&coded);
  }
  return bytes;
}

// A JSON value as a list of strings: "a" or ["a", 3]. False when it is neither.
bool StringList(const json& value, std::vector<std::string>* out) {
  out->clear();
  const json list = value.is_array() ? value : json::array({value});
  for (const json& v : list) {
    if (v.is_string()) {
      out->push_back(v.get<std::string>());
    } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
      out->push_back(std::to_string(v.get<int64_t>()));
    } else {
      return false;
    }
  }
  return true;
}

class Job {
 public:
  Job(const GlobalOptions& g, const JobSettings& s, ShardIndex* index, Endpoints* endpoints,
      std::vector<std::string> labels, std::vector<int> targets, int64_t total)
      : g_(g),
        s_(s),
        index_(index),
        endpoints_(endpoints),
        labels_(std::move(labels)),
        targets_(std::move(targets)),
        progress_(std::string("batch ") + RpcName(s.rpc), total) {}

  ~Job() {
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  // Explains `items` with --concurrency workers. Every second (and at the end) the lines of
  // the images done meanwhile go to the index, after their files are on the disk: a
  // group commit, so that no line that reaches the disk names a file that does not.
  void Run(const std::vector<BatchItem>& items) {
    out_fd_ = ::open(s_.out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    items_ = &items;
    std::vector<std::thread> workers;
    const int n = std::max(1, std::min<int>(s_.concurrency, static_cast<int>(items.size())));
    running_ = n;
    for (int i = 0; i < n; ++i) workers.emplace_back([this] { Work(); });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (running_ > 0) {
        done_.wait_for(lock, std::chrono::seconds(1));
        lock.unlock();
        Flush();
        lock.lock();
      }
    }
    for (std::thread& w : workers) w.join();
    Flush();
    progress_.Finish();
  }

  int64_t ok() const { return ok_; }
  int64_t skipped() const { return skipped_; }
  int64_t failed() const { return failed_; }
  bool stopped() const { return stop_; }
  const std::string& fatal() const { return fatal_; }

 private:
  void Work() {
    while (!stop_) {
      const size_t i = next_++;
      if (i >= items_->size()) break;
      Process((*items_)[i]);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (--running_ == 0) done_.notify_all();
  }

  // The pending lines to the index, once the files they name are on the disk (syncfs of
  // --out's file system: the files and the renames).
  void Flush() {
    std::vector<json> lines;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      lines.swap(pending_);
    }
    if (lines.empty()) return;
    std::string error;
    if (out_fd_ < 0 || ::syncfs(out_fd_) != 0) {
      Stop("cannot write " + s_.out_dir + " to the disk: " + std::strerror(errno));
      return;
    }
    if (!index_->AppendAll(lines, &error)) Stop(error);
  }

  // Ends the job: no new image starts; the images in flight finish or are dropped unrecorded.
  void Stop(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stop_.exchange(true)) fatal_ = why;
  }

  void Process(const BatchItem& item) {
    const auto started = Clock::now();
    json line = {{"input", item.key},
                 {"file", item.path},
                 {"rpc", RpcName(s_.rpc)},
                 {"shard", std::to_string(s_.shard) + "/" + std::to_string(s_.shards)}};
    std::string code = "OK", error = item.error;
    if (!error.empty()) code = "INVALID_ARGUMENT";
    std::string bytes;
    if (error.empty()) {
      core::StatusOr<std::string> read = core::ReadFile(item.path);
      if (!read.ok()) {
        code = std::string(core::StatusCodeName(read.status().code()));
        error = read.status().message();
      } else {
        bytes = std::move(*read);
      }
    }
    Request request;
    if (error.empty()) {
      const std::string sha = Sha256Hex(bytes);
      line["sha256"] = sha;
      if (!BuildRequest(item, &request, &error)) {
        code = "INVALID_ARGUMENT";
      } else {
        const std::string fingerprint =
            Sha256Hex(std::string("xai-batch/1\n") + RpcName(s_.rpc) + "\n" +
                      RequestBytes(s_.rpc, request) + "\n" + sha);
        line["fingerprint"] = fingerprint;
        if (index_->Done(item.key, fingerprint)) {
          ++skipped_;
          Step(item.key);
          return;
        }
        SetImage(&request, std::move(bytes));
        if (!Explain(item, request, fingerprint, &line, &code, &error)) return;  // stopped
      }
    }
    line["status"] = code;
    line["error"] = error;
    line["seconds"] = std::chrono::duration<double>(Clock::now() - started).count();
    line["finished"] = core::IsoTime(std::chrono::system_clock::now());  // Supersedes sorts it
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(line);
    }
    if (code == "OK") {
      ++ok_;
    } else if (const int64_t n = ++failed_; n <= kPrintedFailures) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (progress_.enabled()) std::fprintf(stderr, "\r\033[K");
      std::cerr << "xai batch " << RpcName(s_.rpc) << ": " << item.key << ": " << code << ": "
                << error << "\n";
      if (n == kPrintedFailures) {
        std::cerr << "xai batch " << RpcName(s_.rpc) << ": further failures are only in "
                  << index_->path() << "\n";
      }
    }
    Step(item.key);
  }

  void Step(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t failed = failed_;
    progress_.Step(key, failed > 0 ? std::to_string(failed) + " failed" : "");
  }

  // The request of `item`: the settings, with its own targets, method and layers.
  bool BuildRequest(const BatchItem& item, Request* r, std::string* error) {
    r->cam = s_.cam;
    r->attribution = s_.attribute;
    r->path_options = s_.path;
    std::vector<int> targets = targets_;
    const json& o = item.options;
    if (o.is_object()) {
      if (o.contains("targets")) {
        std::vector<std::string> names;
        if (!StringList(o["targets"], &names)) {
          *error = "\"targets\" must be class indices or labels";
          return false;
        }
        targets.clear();
        for (const std::string& name : names) {
          int index = 0;
          if (const std::string e = TargetIndex(labels_, s_.model, name, &index); !e.empty()) {
            *error = "\"targets\": " + name + ": " + e;
            return false;
          }
          targets.push_back(index);
        }
      }
      if (o.contains("method")) {
        const bool cam = s_.rpc == Rpc::kGradCam;
        if (!cam && s_.rpc != Rpc::kAttribute) {
          *error = std::string("\"method\" is for gradcam and attribute, not ") + RpcName(s_.rpc);
          return false;
        }
        const std::vector<Choice> choices = cam ? CamMethodChoices() : AttributionMethodChoices();
        const Choice* choice =
            o["method"].is_string() ? FindChoice(choices, o["method"].get<std::string>()) : nullptr;
        if (choice == nullptr) {
          *error = "\"method\": " + o["method"].dump() + " is not one of " + ChoiceList(choices);
          return false;
        }
        (cam ? r->cam.method : r->attribution.method) = choice->value;
      }
      if (o.contains("layers")) {
        std::vector<std::string> layers;
        if (s_.rpc != Rpc::kGradCam && s_.rpc != Rpc::kPath) {
          *error = std::string("\"layers\" is for gradcam and path, not ") + RpcName(s_.rpc);
          return false;
        }
        if (!StringList(o["layers"], &layers)) {
          *error = "\"layers\" must be module paths";
          return false;
        }
        (s_.rpc == Rpc::kGradCam ? r->cam.layers : r->path_options.layers) = layers;
      }
      if (s_.rpc == Rpc::kClassify && o.contains("targets")) {
        *error = "\"targets\" is for gradcam, attribute and path, not classify";
        return false;
      }
      if (s_.rpc == Rpc::kPath && targets.size() > 1) {
        *error = "path explains one target; \"targets\" names " + std::to_string(targets.size());
        return false;
      }
    }
    xai::v1::ModelSpec model;
    model.set_name(s_.model);
    model.set_version(s_.version);
    switch (s_.rpc) {
      case Rpc::kClassify:
        *r->classify.mutable_model() = model;
        r->classify.set_top_k(s_.top_k);
        break;
      case Rpc::kGradCam:
        *r->gradcam.mutable_model() = model;
        FillGradCamRequest(r->cam, targets, &r->gradcam);
        break;
      case Rpc::kAttribute:
        *r->attribute.mutable_model() = model;
        FillAttributeRequest(r->attribution, targets, &r->attribute);
        break;
      case Rpc::kPath:
        *r->path.mutable_model() = model;
        FillPathRequest(r->path_options, targets, &r->path);
        break;
    }
    return true;
  }

  void SetImage(Request* r, std::string bytes) {
    switch (s_.rpc) {
      case Rpc::kClassify:
        return r->classify.mutable_image()->set_encoded(std::move(bytes));
      case Rpc::kGradCam:
        return r->gradcam.mutable_image()->set_encoded(std::move(bytes));
      case Rpc::kAttribute:
        return r->attribute.mutable_image()->set_encoded(std::move(bytes));
      case Rpc::kPath:
        return r->path.mutable_image()->set_encoded(std::move(bytes));
    }
  }

  grpc::Status Call(Endpoint* e, grpc::ClientContext* context, const Request& r, Response* out) {
    switch (s_.rpc) {
      case Rpc::kClassify:
        return e->stub->Classify(context, r.classify, &out->classify);
      case Rpc::kGradCam:
        return e->stub->GradCAM(context, r.gradcam, &out->gradcam);
      case Rpc::kAttribute:
        return e->stub->Attribute(context, r.attribute, &out->attribute);
      case Rpc::kPath:
        break;
    }
    return e->stub->DecisionPath(context, r.path, &out->path);
  }

  // Calls the servers (retrying what a retry can cure) and writes the files; fills the
  // line's answer and the status. False when the job stopped.
  bool Explain(const BatchItem& item, const Request& request, const std::string& fingerprint,
               json* line, std::string* code, std::string* error) {
    Response response;
    grpc::Status status;
    Endpoint* endpoint = nullptr;
    int attempt = 0;
    std::string request_id;
    for (;;) {
      if (stop_) return false;
      ++attempt;
      endpoint = endpoints_->Pick(endpoint);
      grpc::ClientContext context;
      PrepareCall(&context, g_);
      request_id = "batch-" + fingerprint.substr(0, 16) + "-" + std::to_string(attempt);
      context.AddMetadata("x-request-id", request_id);
      ++endpoint->in_flight;
      status = Call(endpoint, &context, request, &response);
      --endpoint->in_flight;
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) endpoint->Answered();
      if (status.ok() || !Retryable(status.error_code()) || attempt > s_.retries) break;
      const double wait = Backoff(attempt, s_.max_backoff);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        // Down (or restarting): the other servers take the retry at once, if any is up.
        endpoint->Failed(s_.max_backoff);
        if (!endpoints_->AllDown()) continue;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    (*line)["request_id"] = request_id;
    (*line)["server"] = endpoint->g.server;
    (*line)["attempts"] = attempt;
    if (!status.ok()) {
      *code = CodeName(status.error_code());
      *error = status.error_message();
      if (attempt > 1) *error += " (after " + std::to_string(attempt) + " tries)";
      return true;
    }
    std::vector<OutputFile> files;
    if (!Answer(item, request, response, line, &files, error)) {
      *code = "INTERNAL";
      return true;
    }
    json written = json::array();
    for (const OutputFile& f : files) written.push_back(f.path);
    (*line)["files"] = written;
    std::string write_error;
    switch (Commit(files, &write_error)) {
      case Written::kYes:
        return true;
      case Written::kNotThisImage:
        *code = "INVALID_ARGUMENT";
        *error = write_error;
        line->erase("files");
        return true;
      case Written::kNo:
        break;
    }
    Stop(write_error);
    return false;
  }

  // The answer's part of the line and its files (paths relative to --out), not written.
  bool Answer(const BatchItem& item, const Request& request, const Response& response, json* line,
              std::vector<OutputFile>* files, std::string* error) {
    const fs::path key(item.key);
    const std::string dir = key.parent_path().string();
    std::string prefix = key.filename().string();
    // File names hold at most 255 bytes: a long image name keeps its start and gets a hash
    // of its key, stable across runs, so that its suffixes fit.
    if (prefix.size() > 150) {
      size_t cut = 100;
      while (cut > 0 && (static_cast<unsigned char>(prefix[cut]) & 0xC0) == 0x80) --cut;
      prefix = prefix.substr(0, cut) + "~" + Sha256Hex(item.key).substr(0, 16);
    }
    const auto model = [](const xai::v1::ModelSpec& m) {
      return json{{"name", m.name()}, {"version", m.version()}};
    };
    switch (s_.rpc) {
      case Rpc::kClassify:
        (*line)["model"] = model(response.classify.model());
        (*line)["classes"] = ClassesJson(response.classify.classes());
        return true;
      case Rpc::kGradCam: {
        const auto& r = response.gradcam;
        std::vector<WrittenExplanation> written;
        if (!GradCamFiles(r, request.cam, dir, prefix, &written, files, error)) return false;
        (*line)["model"] = model(r.model());
        (*line)["classes"] = ClassesJson(r.classes());
        (*line)["layers"] = std::vector<std::string>(r.layers().begin(), r.layers().end());
        json targets = json::array();
        for (const auto& w : written) targets.push_back(w.target);
        (*line)["targets"] = targets;
        (*line)["explanations"] = GradCamExplanationsJson(written);
        return true;
      }
      case Rpc::kAttribute: {
        const auto& r = response.attribute;
        json written = json::array();
        if (!AttributeFiles(r, request.attribution, dir, prefix, &written, files, error)) {
          return false;
        }
        (*line)["model"] = model(r.model());
        (*line)["classes"] = ClassesJson(r.classes());
        json targets = json::array();
        for (const auto& a : r.attributions()) targets.push_back(a.target_class());
        (*line)["targets"] = targets;
        (*line)["attributions"] = written;
        return true;
      }
      case Rpc::kPath: {
        const auto& r = response.path;
        *files = PathFiles(r, dir, prefix);
        json path = PathJson(r);
        (*line)["model"] = path["model"];
        (*line)["classes"] = path["classes"];
        (*line)["targets"] = json::array({r.target_class()});
        (*line)["path"] = {{"layers", path["layers"]}, {"chains", path["chains"]}};
        return true;
      }
    }
    return true;
  }

  // Writes each file as NAME.partial and renames it into place, so that no reader (and no
  // later run) sees half a file; on failure removes what it wrote.
  enum class Written { kYes, kNotThisImage, kNo };

  // Writes each file as NAME.partial and renames it into place, so that no reader (and no
  // later run) sees half a file; on failure removes what it wrote. A name this file system
  // refuses (too long) fails the image; any other failure (permissions, a full disk, a
  // file where a folder should be) the job.
  Written Commit(const std::vector<OutputFile>& files, std::string* error) {
    std::vector<std::string> partials;
    int failure = 0;
    for (const OutputFile& f : files) {
      const fs::path final_path = fs::path(s_.out_dir) / f.path;
      std::error_code ec;
      fs::create_directories(final_path.parent_path(), ec);
      if (ec) {
        *error = "cannot create " + final_path.parent_path().string() + ": " + ec.message();
        failure = ec.value();
        break;
      }
      const std::string partial = final_path.string() + ".partial";
      if (!WriteWhole(partial, f.bytes)) {
        failure = errno;
        *error = "cannot write " + partial + ": " + std::strerror(failure);
        if (failure != ENAMETOOLONG) partials.push_back(partial);
        break;
      }
      partials.push_back(partial);
    }
    for (size_t i = 0; failure == 0 && i < files.size(); ++i) {
      const std::string final_path = (fs::path(s_.out_dir) / files[i].path).string();
      if (::rename(partials[i].c_str(), final_path.c_str()) != 0) {
        failure = errno;
        *error = "cannot write " + final_path + ": " + std::strerror(failure);
      }
    }
    if (failure == 0) return Written::kYes;
    for (const std::string& p : partials) ::unlink(p.c_str());
    return failure == ENAMETOOLONG ? Written::kNotThisImage : Written::kNo;
  }

  // `bytes` into a new file `path`; false with errno set.
  static bool WriteWhole(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    if (!WriteAll(fd, bytes)) {
      const int why = errno;
      ::close(fd);
      errno = why;
      return false;
    }
    return ::close(fd) == 0;  // NFS reports a full disk here
  }

  const GlobalOptions& g_;
  const JobSettings& s_;
  ShardIndex* index_;
  Endpoints* endpoints_;
  const std::vector<std::string> labels_;
  const std::vector<int> targets_;
  const std::vector<BatchItem>* items_ = nullptr;
  std::atomic<size_t> next_{0};
  std::atomic<int64_t> ok_{0}, skipped_{0}, failed_{0};
  std::atomic<bool> stop_{false};
  std::string fatal_;
  std::mutex mutex_;  // the progress bar, stderr, fatal_, running_ and pending_
  std::condition_variable done_;
  int running_ = 0;
  std::vector<json> pending_;  // lines of images done since the last Flush
  int out_fd_ = -1;            // --out, for syncfs
  ProgressBar progress_;
};

// DescribeModel through the servers, waiting for one to answer: the model's labels, or
// why the job cannot start.
bool Preflight(const GlobalOptions& g, const JobSettings& s, Endpoints* endpoints,
               std::vector<std::string>* labels, std::string* error) {
  xai::v1::DescribeModelRequest request;
  request.mutable_model()->set_name(s.model);
  request.mutable_model()->set_version(s.version);
  Endpoint* endpoint = nullptr;
  for (int attempt = 1;; ++attempt) {
    endpoint = endpoints->Pick(endpoint);
    grpc::ClientContext context;
    PrepareCall(&context, g);
    xai::v1::DescribeModelResponse response;
    const grpc::Status status = endpoint->stub->DescribeModel(&context, request, &response);
    if (status.ok()) {
      labels->assign(response.labels().begin(), response.labels().end());
      return true;
    }
    if (!Retryable(status.error_code()) || attempt > s.retries) {
      *error = "model " + s.model + (s.version ? " v" + std::to_string(s.version) : "") + ": " +
               Describe(status, endpoint->g);
      return false;
    }
    const double wait = Backoff(attempt, s.max_backoff);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) endpoint->Failed(s.max_backoff);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

}  // namespace

const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kClassify:
      return "classify";
    case Rpc::kGradCam:
      return "gradcam";
    case Rpc::kAttribute:
      return "attribute";
    case Rpc::kPath:
      break;
  }
  return "path";
}

int RunJob(const GlobalOptions& g, const JobSettings& s) {
  const std::string command = std::string("xai batch ") + RpcName(s.rpc);
  const auto started = Clock::now();
  std::error_code ec;
  if (fs::is_directory(s.input, ec) && fs::exists(s.out_dir, ec) &&
      fs::equivalent(s.input, s.out_dir, ec)) {
    std::cerr << command << ": --out " << s.out_dir
              << " is INPUT itself: its files would be read as images; give another --out "
                 "(one inside INPUT is left out of it)\n";
    return kExitUsage;
  }
  if (!MakeOutDir(command.substr(4), s.out_dir)) return kExitFailure;
  // Marks --out as an output, which no directory input reads (an --out inside INPUT).
  const std::string marker = (fs::path(s.out_dir) / kOutputMarker).string();
  if (const core::Status written =
          core::WriteFile(marker,
                          "xai batch writes here: its files, its indexes (index.shard-*.jsonl); "
                          "never read as input\n");
      !written.ok()) {
    std::cerr << command << ": " << written.message() << "\n";
    return kExitFailure;
  }
  ShardIndex index;
  std::string error;
  if (!index.Lock(s.out_dir, s.shard, s.shards, &error)) {
    std::cerr << command << ": " << error << "\n";
    return kExitFailure;
  }
  std::vector<BatchItem> all;
  int64_t not_images = 0;
  if (!ListInputs(s.input, &all, &not_images, &error)) {
    std::cerr << command << ": " << error << "\n";
    return kExitFailure;
  }
  std::vector<BatchItem> items;
  std::set<std::string> keys;
  for (BatchItem& item : all) {
    if (ShardOf(item.key, s.shards) != s.shard) continue;
    keys.insert(item.key);
    items.push_back(std::move(item));
  }
  if (!index.Load(keys, &error)) {
    std::cerr << command << ": " << error << "\n";
    return kExitFailure;
  }

  Endpoints endpoints(g, s.servers.empty() ? std::vector<std::string>{g.server} : s.servers);
  std::vector<std::string> labels;
  if (!Preflight(g, s, &endpoints, &labels, &error)) {
    std::cerr << command << ": " << error << "\n";
    return kExitFailure;
  }
  const std::vector<std::string>& flag_targets = s.rpc == Rpc::kGradCam     ? s.cam.targets
                                                 : s.rpc == Rpc::kAttribute ? s.attribute.targets
                                                 : s.rpc == Rpc::kPath && !s.path.target.empty()
                                                     ? std::vector<std::string>{s.path.target}
                                                     : std::vector<std::string>{};
  std::vector<int> targets;
  for (const std::string& target : flag_targets) {
    int target_index = 0;
    if (const std::string e = TargetIndex(labels, s.model, target, &target_index); !e.empty()) {
      std::cerr << command << ": --target " << target << ": " << e << "\n";
      return kExitUsage;
    }
    targets.push_back(target_index);
  }

  Job job(g, s, &index, &endpoints, labels, targets, static_cast<int64_t>(items.size()));
  job.Run(items);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const int64_t explained = job.ok() + job.failed();
  const double rate = seconds > 0 ? static_cast<double>(explained) / seconds : 0;
  if (job.stopped()) {
    std::cerr << command << ": stopped: " << job.fatal()
              << " (nothing of the images in flight was recorded; fix it and rerun: the "
                 "images done are kept)\n";
  }
  const std::string shard = std::to_string(s.shard) + "/" + std::to_string(s.shards);
  if (g.json) {
    std::cout << JsonText(
                     {{"shard", shard},
                      {"inputs", all.size()},
                      {"images", items.size()},
                      {"not_images_skipped", not_images},
                      {"ok", job.ok()},
                      {"skipped", job.skipped()},
                      {"failed", job.failed()},
                      {"not_done", static_cast<int64_t>(items.size()) - explained - job.skipped()},
                      {"seconds", seconds},
                      {"images_per_second", rate},
                      {"index", index.path()},
                      {"stopped", job.stopped() ? json(job.fatal()) : json(nullptr)}})
              << "\n";
  } else {
    std::printf(
        "%s: shard %s: %zu images of %zu inputs%s\n", command.c_str(), shard.c_str(), items.size(),
        all.size(),
        not_images > 0
            ? ("; " + std::to_string(not_images) + " files that are not images skipped").c_str()
            : "");
    PrintTable(
        stdout, {"  RESULT", "IMAGES", ""},
        {{"  explained", std::to_string(job.ok()), "OK, written now"},
         {"  skipped", std::to_string(job.skipped()), "OK in an earlier run of the same request"},
         {"  failed", std::to_string(job.failed()),
          job.failed() > 0 ? "see the index's status and error; a rerun retries them" : ""}});
    std::printf("  %s images/s over %s; index %s\n", FormatSignificant(rate, 3).c_str(),
                FormatDuration(seconds).c_str(), index.path().c_str());
  }
  return job.failed() > 0 || job.stopped() ? kExitFailure : 0;
}

int RunMerge(const GlobalOptions& g, const std::string& dir) {
  MergeSummary summary;
  std::string error;
  if (!MergeIndexes(dir, &summary, &error)) {
    std::cerr << "xai batch merge: " << error << "\n";
    return kExitFailure;
  }
  if (g.json) {
    std::cout << JsonText({{"index", summary.merged},
                           {"shard_files", summary.shard_files},
                           {"inputs", summary.inputs},
                           {"ok", summary.ok},
                           {"failed", summary.failed},
                           {"unreadable_lines", summary.unreadable_lines}})
              << "\n";
  } else {
    std::printf(
        "%s: %lld inputs from %zu shard indexes: %lld OK, %lld not OK%s\n", summary.merged.c_str(),
        static_cast<long long>(summary.inputs), summary.shard_files.size(),
        static_cast<long long>(summary.ok), static_cast<long long>(summary.failed),
        summary.unreadable_lines > 0
            ? (", " + std::to_string(summary.unreadable_lines) + " unreadable lines").c_str()
            : "");
  }
  return summary.failed > 0 ? kExitFailure : 0;
}

}  // namespace xai::client::batch
