// xai-serving-check: the serving path in process, without gRPC: the Explainer (the model
// repository, each version's scheduler with its dynamic batching, the instance pool, the
// request code with its overlays) driven by C caller threads with Classify, GRAD_CAM with an
// overlay PNG and INTEGRATED_GRADIENTS calls, next to the plain forward of the same
// TorchScript file measured in the same run. It checks as it measures: every call must
// answer OK, overlays must be PNG files, and --expect-class names the class the first image
// must get. Built against LibTorch 2.x by scripts/libtorch2-check.sh, where it is the
// product's check (the server's gRPC and HTTP layers hold no LibTorch); a CTest smoke run on
// the demo model; the serving figures of a GPU node where the image's packages are there.
//
// Exit status: 0 when every call answered as checked, 1 when one did not, 2 on bad usage or
// a model that does not load.
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/measure.h"
#include "core/base/command_line.h"
#include "core/base/files.h"
#include "core/explainer.h"
#include "core/image/image_preprocessor.h"
#include "core/repository/model_config.h"
#include "core/runtime/runtime_info.h"

namespace {

namespace core = xai::core;
using xai::bench::Clock;
using xai::bench::Ms;
using xai::bench::Summarise;

// The request kinds of a workload.
enum class Kind { kClassify, kGradCam, kIntegratedGradients };
constexpr int kKinds = 3;
const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kClassify:
      return "Classify";
    case Kind::kGradCam:
      return "GRAD_CAM+PNG";
    case Kind::kIntegratedGradients:
      return "IG";
  }
  return "?";
}

// One call as the caller saw it, and what the engine's trace said of it.
struct CallRecord {
  Kind kind = Kind::kClassify;
  double ms = 0;
  double queue_ms = 0;  // waiting for an instance
  int batch_size = 0;   // requests in the batch it ran in
};

// What every call of the run checks; the first failure is kept for the report.
class Checks {
 public:
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.empty()) first_ = what;
    ++failures_;
  }
  int failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  std::string first() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  mutable std::mutex mu_;
  int failures_ = 0;
  std::string first_;
};

bool IsPng(const std::string& bytes) { return bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

// The Explainer's callback API made blocking, as one caller of a server waits for its answer.
template <typename Result, typename Request>
core::StatusOr<Result> CallAndWait(void (core::Explainer::*method)(Request,
                                                                   core::RequestCallback<Result>),
                                   core::Explainer& explainer, Request request) {
  std::promise<core::StatusOr<Result>> answer;
  std::future<core::StatusOr<Result>> future = answer.get_future();
  (explainer.*method)(std::move(request), [&answer](core::StatusOr<Result> result) {
    answer.set_value(std::move(result));
  });
  return future.get();
}

struct Workload {
  std::string model;
  std::string image;  // encoded; the requests borrow it
  int ig_steps = 16;
  int expect_class = -1;  // -1: any
};

// One call of `kind`, checked (a failure goes to `checks`); fills `record`.
void Call(core::Explainer& explainer, const Workload& work, Kind kind, Checks& checks,
          CallRecord* record, std::string* overlay_png = nullptr) {
  auto trace = std::make_shared<core::RequestTrace>();
  core::ImageRef image;
  image.kind = core::ImageRef::Kind::kEncoded;
  image.encoded = work.image;
  const auto start = Clock::now();
  std::string failure;
  int top_class = -1;
  switch (kind) {
    case Kind::kClassify: {
      core::ClassifyRequest request;
      request.model.name = work.model;
      request.image = image;
      request.top_k = 1;
      request.context.trace = trace;
      auto result = CallAndWait(&core::Explainer::Classify, explainer, std::move(request));
      if (!result.ok()) {
        failure = result.status().ToString();
      } else if (result->classes.empty()) {
        failure = "Classify answered no class";
      } else {
        top_class = result->classes[0].index;
      }
      break;
    }
    case Kind::kGradCam: {
      core::GradCamRequest request;
      request.model.name = work.model;
      request.image = image;
      request.overlay.enabled = true;
      request.context.trace = trace;
      auto result = CallAndWait(&core::Explainer::GradCam, explainer, std::move(request));
      if (!result.ok()) {
        failure = result.status().ToString();
      } else if (result->explanations.size() != 1 || result->classes.empty()) {
        failure = "GradCAM answered " + std::to_string(result->explanations.size()) + " maps";
      } else if (!IsPng(result->explanations[0].overlay_png)) {
        failure = "GradCAM's overlay is not a PNG file";
      } else {
        top_class = result->classes[0].index;
        if (overlay_png != nullptr) *overlay_png = result->explanations[0].overlay_png;
      }
      break;
    }
    case Kind::kIntegratedGradients: {
      core::AttributeRequest request;
      request.model.name = work.model;
      request.image = image;
      request.method = core::AttributionMethod::kIntegratedGradients;
      request.steps = work.ig_steps;
      request.context.trace = trace;
      auto result = CallAndWait(&core::Explainer::Attribute, explainer, std::move(request));
      if (!result.ok()) {
        failure = result.status().ToString();
      } else if (result->attributions.size() != 1 || result->classes.empty()) {
        failure =
            "Attribute answered " + std::to_string(result->attributions.size()) + " attributions";
      } else {
        top_class = result->classes[0].index;
        for (float v : result->attributions[0].map.data) {
          if (!std::isfinite(v)) {
            failure = "INTEGRATED_GRADIENTS' map holds a value that is not finite";
            break;
          }
        }
      }
      break;
    }
  }
  record->kind = kind;
  record->ms = Ms(Clock::now() - start);
  record->queue_ms = std::chrono::duration<double, std::milli>(trace->queue).count();
  record->batch_size = trace->batch_size;
  if (failure.empty() && work.expect_class >= 0 && top_class != work.expect_class) {
    failure = "top class " + std::to_string(top_class) + ", expected " +
              std::to_string(work.expect_class);
  }
  if (!failure.empty()) checks.Fail(std::string(KindName(kind)) + ": " + failure);
}

// One level: `calls` calls by `concurrency` callers, each calling as soon as its last call
// returned; caller t's i-th call is of kinds[(t + i) % kinds.size()].
struct Level {
  double seconds = 0;
  std::vector<CallRecord> records;
};

Level RunLevel(core::Explainer& explainer, const Workload& work, const std::vector<Kind>& kinds,
               int calls, int concurrency, Checks& checks) {
  std::atomic<int> next{0};
  std::vector<std::vector<CallRecord>> records(concurrency);
  const auto start = Clock::now();
  std::vector<std::thread> callers;
  for (int t = 0; t < concurrency; ++t) {
    callers.emplace_back([&, t] {
      for (int i = t; next.fetch_add(1) < calls; ++i) {
        CallRecord record;
        Call(explainer, work, kinds[i % kinds.size()], checks, &record);
        records[t].push_back(record);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  Level level;
  level.seconds = Ms(Clock::now() - start) / 1000.0;
  for (auto& r : records) level.records.insert(level.records.end(), r.begin(), r.end());
  return level;
}

// The plain forward of the served file, as LibTorch users run it: no grad, the same input
// the server computes from the same bytes, on the model's first device.
class PlainForward {
 public:
  PlainForward(torch::jit::Module module, at::Tensor input, const std::string& device)
      : module_(std::move(module)), device_(device), input_(input.to(device_)) {
    module_.eval();
    module_.to(device_);
  }

  // Images per second at batch `b` (median of a few timed forwards after an untimed one).
  double ImagesPerSecond(int b) {
    const at::Tensor x = input_.repeat({b, 1, 1, 1});
    return b * 1000.0 / xai::bench::P50Ms(std::max(3, 24 / b), [&] { Run(x); });
  }

 private:
  void Run(const at::Tensor& x) {
    c10::InferenceMode guard;
    module_.forward({x});
    if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
  }

  torch::jit::Module module_;
  c10::Device device_;
  at::Tensor input_;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "xai-serving-check: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string repository;
  std::string model;
  std::string image_path;
  std::string workloads_list = "classify,gradcam,ig,mixed";
  std::string concurrency_list = "1,8";
  std::string batch_list = "1,2,4,8,16,32";
  std::string out_dir;
  int calls = 48;
  int ig_steps = 16;
  int expect_class = -1;
  int intra_op_threads = 0;

  CLI::App app{
      "xai-serving-check: the serving path in process (the Explainer: the repository, each\n"
      "version's scheduler and dynamic batching, the instance pool, the requests and their\n"
      "overlays), without gRPC, driven by C callers with Classify, GRAD_CAM with an overlay PNG\n"
      "and INTEGRATED_GRADIENTS calls; throughput is printed next to the plain no-grad forward\n"
      "of the same file at its best batch size, measured in the same run. Every call is\n"
      "checked (OK, a PNG overlay, finite attributions, --expect-class). The model's\n"
      "config.pbtxt decides batching, instances and devices. Exit status: 0 when every call\n"
      "passed its checks, 1 when one did not, 2 on bad usage. On the demo model:\n"
      "  xai-serving-check --model-repository models --model shapes \\\n"
      "    --image samples/star_3.png --expect-class 3"};
  app.add_option("--model-repository", repository, "Model repository (a directory)")->required();
  app.add_option("--model", model, "Model name")->required();
  app.add_option("--image", image_path, "Image file every call sends, encoded")->required();
  app.add_option("--expect-class", expect_class,
                 "The class index every call's top class must be (-1: not checked)")
      ->capture_default_str();
  app.add_option("--workloads", workloads_list,
                 "What the callers call, comma-separated: classify, gradcam (GRAD_CAM with an "
                 "overlay PNG), ig (INTEGRATED_GRADIENTS, --ig-steps), mixed (the three in turn)")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency_list, "Callers, comma-separated levels")
      ->capture_default_str();
  app.add_option("--calls", calls, "Calls per workload and level")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--ig-steps", ig_steps, "INTEGRATED_GRADIENTS' steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--batch-sizes", batch_list, "Plain forward: batch sizes tried, comma-separated")
      ->capture_default_str();
  app.add_option("--out", out_dir, "Write one GRAD_CAM overlay of the image here, as PNG");
  app.add_option("--intra-op-threads", intra_op_threads,
                 "LibTorch intra-op threads, for the Explainer and the plain forward (0: "
                 "LibTorch's default)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  xai::CommandLine command_line(argc, argv);
  CLI11_PARSE(app, command_line.argc(), command_line.argv());
  spdlog::set_level(spdlog::level::warn);

  const std::vector<int> levels = xai::bench::ParseList(concurrency_list, 1, 1024);
  const std::vector<int> batches = xai::bench::ParseList(batch_list, 1, 1024);
  if (levels.empty() || batches.empty()) {
    return Usage("--concurrency and --batch-sizes take numbers in [1, 1024], comma-separated");
  }
  const std::map<std::string, std::vector<Kind>> known = {
      {"classify", {Kind::kClassify}},
      {"gradcam", {Kind::kGradCam}},
      {"ig", {Kind::kIntegratedGradients}},
      {"mixed", {Kind::kClassify, Kind::kGradCam, Kind::kIntegratedGradients}}};
  std::vector<std::pair<std::string, std::vector<Kind>>> workloads;
  {
    std::stringstream in(workloads_list);
    std::string name;
    while (std::getline(in, name, ',')) {
      if (name.empty()) continue;
      auto found = known.find(name);
      if (found == known.end()) {
        return Usage("--workloads: \"" + name + "\" is not classify, gradcam, ig or mixed");
      }
      workloads.emplace_back(*found);
    }
  }
  if (workloads.empty()) return Usage("--workloads names none");

  Workload work;
  work.model = model;
  work.ig_steps = ig_steps;
  work.expect_class = expect_class;
  {
    auto read = core::ReadFile(image_path);
    if (!read.ok()) return Usage("--image: " + read.status().ToString());
    work.image = std::move(*read);
  }

  core::ExplainerOptions options;
  options.model_repository = repository;
  options.intra_op_threads = intra_op_threads;
  auto created = core::Explainer::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "xai-serving-check: %s\n", created.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<core::Explainer> explainer = std::move(*created);
  const auto load_start = Clock::now();
  explainer->WaitUntilLoaded();
  const double load_ms = Ms(Clock::now() - load_start);
  auto description = explainer->DescribeModel(core::ModelRef{model, 0});
  if (!description.ok()) {
    std::fprintf(stderr, "xai-serving-check: %s\n", description.status().ToString().c_str());
    return 2;
  }
  auto config = core::ReadModelConfig(repository + "/" + model + "/config.pbtxt");
  if (!config.ok()) {
    std::fprintf(stderr, "xai-serving-check: %s\n", config.status().ToString().c_str());
    return 2;
  }
  const core::ImagePreprocessor preprocessor({});
  auto input = preprocessor.Preprocess(work.image, config->input());
  if (!input.ok()) return Usage("--image: " + input.status().ToString());
  const std::string model_file =
      repository + "/" + model + "/" + std::to_string(description->model.version) + "/model.pt";
  const std::string device = description->devices.empty() ? "cpu" : description->devices[0];
  std::unique_ptr<PlainForward> plain;
  try {
    plain = std::make_unique<PlainForward>(torch::jit::load(model_file), input->input, device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xai-serving-check: %s does not load as the plain forward: %s\n",
                 model_file.c_str(), e.what());
    return 2;
  }

  const xai::core::BlasInfo blas = core::Blas();
  std::printf("xai-serving-check: LibTorch %s; BLAS: %s; %u hardware threads, %d intra-op\n",
              core::LibTorchVersion().c_str(), blas.description.c_str(),
              std::thread::hardware_concurrency(), at::get_num_threads());
  const auto& shape = description->input_shape;
  std::printf(
      "model %s v%lld (%s) on %s, input [%lld, %lld, %lld], loaded in %.0f ms; batching: %s; "
      "image %s (%zu bytes)\n",
      model.c_str(), static_cast<long long>(description->model.version), model_file.c_str(),
      device.c_str(), static_cast<long long>(shape.size() > 0 ? shape[0] : 0),
      static_cast<long long>(shape.size() > 1 ? shape[1] : 0),
      static_cast<long long>(shape.size() > 2 ? shape[2] : 0), load_ms,
      config->has_dynamic_batching()
          ? ("dynamic, max " + std::to_string(config->dynamic_batching().max_batch_size()) +
             ", delay " + std::to_string(config->dynamic_batching().max_queue_delay_us()) + " us")
                .c_str()
          : "none",
      image_path.c_str(), work.image.size());

  // One call of each kind first: the answer the checks start from, and the overlay to keep.
  Checks checks;
  {
    CallRecord record;
    std::string overlay;
    Call(*explainer, work, Kind::kClassify, checks, &record);
    Call(*explainer, work, Kind::kGradCam, checks, &record, &overlay);
    if (!out_dir.empty() && !overlay.empty()) {
      std::error_code ignored;
      std::filesystem::create_directories(out_dir, ignored);
      const std::string path =
          out_dir + "/" + std::filesystem::path(image_path).stem().string() + "_grad_cam.png";
      const core::Status written = core::WriteFile(path, overlay);
      if (!written.ok()) {
        std::fprintf(stderr, "xai-serving-check: --out: %s\n", written.ToString().c_str());
        return 2;
      }
      std::printf("GRAD_CAM overlay written to %s\n", path.c_str());
    }
    if (checks.failures() > 0) {
      std::printf("FAIL the first calls: %s\n", checks.first().c_str());
      return 1;
    }
    std::printf("first calls: %s\n",
                expect_class >= 0
                    ? ("top class " + std::to_string(expect_class) + " as expected").c_str()
                    : "answered");
  }

  // The plain forward's best batch.
  double best = 0;
  int best_batch = 1;
  for (int b : batches) {
    const double per_second = plain->ImagesPerSecond(b);
    if (per_second > best) best = per_second, best_batch = b;
  }
  std::printf("plain forward (no grad) on %s: best %.1f images/s at batch %d\n\n", device.c_str(),
              best, best_batch);

  std::printf("%-9s %4s %6s %9s %10s %-13s %8s %8s %8s %8s\n", "workload", "C", "calls", "calls/s",
              "vs fwd", "kind", "p50 ms", "p99 ms", "queue", "batch");
  for (const auto& [name, kinds] : workloads) {
    for (int c : levels) {
      const Level level = RunLevel(*explainer, work, kinds, calls, c, checks);
      const double per_second = static_cast<double>(level.records.size()) / level.seconds;
      // The level's own columns on its first row only.
      char head[64];
      std::snprintf(head, sizeof head, "%4d %6zu %9.1f %9.3fx", c, level.records.size(), per_second,
                    per_second / best);
      bool first_row = true;
      for (int k = 0; k < kKinds; ++k) {
        std::vector<double> ms;
        double queue = 0, total = 0, batch = 0;
        for (const CallRecord& r : level.records) {
          if (static_cast<int>(r.kind) != k) continue;
          ms.push_back(r.ms);
          queue += r.queue_ms;
          total += r.ms;
          batch += r.batch_size;
        }
        if (ms.empty()) continue;
        const auto s = Summarise(ms);
        // queue: the share of the callers' time spent waiting for an instance; batch: the
        // mean number of requests in the batches the calls ran in.
        std::printf("%-9s %-31s %-13s %8.2f %8.2f %7.0f%% %8.1f\n", first_row ? name.c_str() : "",
                    first_row ? head : "", KindName(static_cast<Kind>(k)), s.p50_ms, s.p99_ms,
                    total > 0 ? 100 * queue / total : 0, batch / ms.size());
        first_row = false;
      }
    }
  }
  std::printf(
      "\nvs fwd: calls/s over the plain forward's best images/s (an IG call runs %d "
      "steps' forwards and backwards); queue: the calls' time waiting for an instance\n",
      ig_steps);
  explainer->Shutdown();
  if (checks.failures() > 0) {
    std::printf("FAIL %d calls failed their checks; the first: %s\n", checks.failures(),
                checks.first().c_str());
    return 1;
  }
  std::printf("xai-serving-check: ok, every call answered and passed its checks\n");
  return 0;
}
