// xai-gpu-check: the engine on a CUDA device, checked against the CPU and measured against
// the plain LibTorch forward. Links the engine alone (LibTorch, nothing else), so that it
// builds against a CUDA build of PyTorch's bundled LibTorch on a GPU machine without the
// server's dependencies. scripts/gpu-check.sh builds and runs it; see docs/PERFORMANCE.md.
//
//   xai-gpu-check --fixtures DIR [--device cuda:0] [--json FILE] [--quick]
//
// DIR holds repo/resnet18/1/model.pt (tools/make_fixtures.py) and, optionally, the demo
// model at repo/shapes/1/model.pt. Exit status: 0 when every correctness check passed
// (CUDA equals CPU; reduced precision close to FP32), 1 when one failed, 2 on bad usage or
// a model that does not load. The speed goals are reported, not enforced.
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#if !defined(XAI_NO_CUDA_STATS) && __has_include(<c10/cuda/CUDACachingAllocator.h>) && \
    __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define XAI_HAVE_CUDA_STATS 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/methods/attribution/attribution.h"
#include "core/methods/cam/cam_methods.h"
#include "core/methods/cam/grad_cam.h"
#include "core/methods/classifier.h"
#include "core/methods/faithfulness/faithfulness.h"
#include "core/methods/path/decision_path.h"
#include "core/runtime/compute_pool.h"
#include "core/runtime/execution.h"
#include "core/runtime/model_pool.h"
#include "core/runtime/runtime_info.h"

namespace {

using xai::core::CamMethod;
using xai::core::ModelPool;
using xai::core::ModelPoolOptions;
using xai::core::Precision;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string fixtures;
  std::string device = "cuda:0";
  std::string json;
  bool quick = false;  // fewer inputs, batches and repetitions (the CPU smoke test)
};

struct TestModel {
  std::string name;
  std::string path;
  int64_t size = 0;                                 // square input side
  std::vector<std::vector<std::string>> cam_specs;  // layer lists to explain
  std::vector<std::string> path_layers;
};

// One line of the JSON report: a flat object per measurement.
class Report {
 public:
  void Add(const std::string& section, const std::vector<std::pair<std::string, std::string>>& kv) {
    std::ostringstream line;
    line << "{\"section\": \"" << section << "\"";
    for (const auto& [k, v] : kv) line << ", \"" << k << "\": " << v;
    line << "}";
    lines_.push_back(line.str());
  }
  void Write(const std::string& path) const {
    if (path.empty()) return;
    std::ofstream out(path);
    out << "[\n";
    for (size_t i = 0; i < lines_.size(); ++i)
      out << "  " << lines_[i] << (i + 1 < lines_.size() ? ",\n" : "\n");
    out << "]\n";
  }

 private:
  std::vector<std::string> lines_;
};

std::string Quote(const std::string& s) { return "\"" + s + "\""; }
std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream out;
  out.precision(6);
  out << v;
  return out.str();
}

constexpr const char* kUsage =
    "usage: xai-gpu-check --fixtures DIR [--device cuda:0] [--json FILE] [--quick]\n"
    "  --fixtures DIR  tools/make_fixtures.py's output: DIR/repo/resnet18 (and shapes)\n"
    "  --device NAME   cuda:N (default cuda:0), or cpu for a smoke run of sections 3-5\n"
    "  --json FILE     also write every figure as JSON\n"
    "  --quick         fewer inputs, batches and repetitions\n"
    "Exit status: 0 when the correctness checks pass, 1 when one fails, 2 on bad usage.\n";

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "xai-gpu-check: " << why << "\n" << kUsage;
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--fixtures") {
      options.fixtures = value();
    } else if (arg == "--device") {
      options.device = value();
    } else if (arg == "--json") {
      options.json = value();
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "xai-gpu-check: the engine on a CUDA device, against the CPU and the plain "
                   "LibTorch forward\n"
                << kUsage;
      std::exit(0);
    } else {
      Usage("unknown argument " + arg);
    }
  }
  if (options.fixtures.empty()) Usage("--fixtures is required");
  return options;
}

xai::core::StatusOr<std::unique_ptr<ModelPool>> CreatePool(const TestModel& model,
                                                           const std::string& device,
                                                           Precision precision, int count,
                                                           int max_batch) {
  ModelPoolOptions options;
  options.model_path = model.path;
  options.display_name = model.name + " on " + device;
  options.instance_groups = {{{device}, count}};
  options.input_shape = {3, model.size, model.size};
  options.max_batch_size = max_batch;
  options.precision = precision;
  return ModelPool::Create(options);
}

// CreatePool, or the end of the program when the model does not load.
std::unique_ptr<ModelPool> MakePool(const TestModel& model, const std::string& device,
                                    Precision precision, int count, int max_batch) {
  auto pool = CreatePool(model, device, precision, count, max_batch);
  if (!pool.ok()) {
    std::cerr << "xai-gpu-check: " << pool.status().ToString() << "\n";
    std::exit(2);
  }
  return std::move(*pool);
}

// Where the report goes, so that a failing step still leaves what was measured.
Report* g_report = nullptr;
std::string g_report_path;

template <typename T>
T Must(xai::core::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) {
    std::cerr << "xai-gpu-check: " << what << ": " << value.status().ToString() << "\n";
    if (g_report != nullptr) g_report->Write(g_report_path);
    std::exit(1);
  }
  return std::move(*value);
}

ModelPool::Handle Acquire(ModelPool& pool) { return Must(pool.Acquire(), "acquire"); }

std::vector<CamMethod> MapMethods() {
  std::vector<CamMethod> out;
  for (int n = 1; n <= 32; ++n) {
    auto method = xai::core::CamMethodFromNumber(n);
    if (method && xai::core::FindMapCamMethod(*method) != nullptr) out.push_back(*method);
  }
  return out;
}

xai::core::GradCamSpec Spec(const TestModel& model, const std::vector<std::string>& layers,
                            CamMethod method) {
  xai::core::GradCamSpec spec;
  spec.layers = layers;
  spec.cut = 0;  // the lists below name the earliest layer first
  spec.method = method;
  spec.height = model.size;
  spec.width = model.size;
  return spec;
}

std::string Join(const std::vector<std::string>& items, const char* sep = "+") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// Seconds per call of each of `calls`, each the median of its timed calls. The calls run
// in turn (a, b, a, b, ...), `warmup` untimed rounds first, until `min_rounds` rounds and
// `min_seconds` have passed: drift in the machine's state then weighs on all alike. Every
// call ends with its results on the CPU, so the host clock brackets the device's work.
std::vector<double> Medians(const std::vector<std::function<void()>>& calls, int warmup,
                            int min_rounds, double min_seconds) {
  for (int i = 0; i < warmup; ++i) {
    for (const auto& call : calls) call();
  }
  std::vector<std::vector<double>> times(calls.size());
  const auto start = Clock::now();
  for (int round = 0; round < 2000; ++round) {
    if (round >= min_rounds &&
        std::chrono::duration<double>(Clock::now() - start).count() >= min_seconds) {
      break;
    }
    for (size_t c = 0; c < calls.size(); ++c) {
      const auto t0 = Clock::now();
      calls[c]();
      times[c].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

double Median(const std::function<void()>& call, int warmup, int min_calls, double min_seconds) {
  return Medians({call}, warmup, min_calls, min_seconds)[0];
}

struct MemoryMark {
  double peak_allocated_mib = NAN;
  double peak_reserved_mib = NAN;
};

void ResetPeak(c10::Device device) {
#ifdef XAI_HAVE_CUDA_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

MemoryMark Peak(c10::Device device) {
  MemoryMark mark;
#ifdef XAI_HAVE_CUDA_STATS
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    mark.peak_allocated_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);
    mark.peak_reserved_mib = static_cast<double>(stats.reserved_bytes[0].peak) / (1 << 20);
  }
#else
  (void)device;
#endif
  return mark;
}

// The GPU's memory in use as nvidia-smi reports it (every process, the CUDA context
// included), in MiB; NaN without nvidia-smi.
double SmiUsedMib(c10::Device device) {
  if (!device.is_cuda()) return NAN;
  const std::string command =
      "nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i " +
      std::to_string(device.index() < 0 ? 0 : device.index()) + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return NAN;
  char buffer[64] = {0};
  const bool read = std::fgets(buffer, sizeof buffer, pipe) != nullptr;
  pclose(pipe);
  return read ? std::atof(buffer) : NAN;
}

double Cosine(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.flatten().to(at::kDouble);
  const at::Tensor y = b.flatten().to(at::kDouble);
  const double denominator = (x.norm() * y.norm()).item<double>();
  return denominator > 0 ? (x * y).sum().item<double>() / denominator : (x.equal(y) ? 1.0 : 0.0);
}

int64_t PeakCell(const at::Tensor& raw) { return raw.flatten().argmax().item<int64_t>(); }

// 1. CUDA equals CPU in float32, for every served method, layer list and a few inputs.
bool CheckParity(const std::vector<TestModel>& models, const Options& options, Report& report) {
  std::printf("\n== 1. %s maps against CPU maps, FP32 (goal: max |difference| <= 1e-4)\n",
              options.device.c_str());
  std::printf("%-10s %-14s %-18s %12s %12s %12s\n", "model", "layers", "method", "max|dcam|",
              "rel|draw|", "max|dlogit|");
  bool ok = true;
  const int inputs = options.quick ? 1 : 4;
  for (const TestModel& model : models) {
    auto cpu = MakePool(model, "cpu", Precision::kFloat32, 1, 1);
    auto dev = MakePool(model, options.device, Precision::kFloat32, 1, 1);
    auto cpu_handle = Acquire(*cpu);
    auto dev_handle = Acquire(*dev);
    for (const auto& layers : model.cam_specs) {
      for (CamMethod method : MapMethods()) {
        double cam_diff = 0, raw_diff = 0, logit_diff = 0;
        for (int k = 0; k < inputs; ++k) {
          torch::manual_seed(1000 + k);
          const at::Tensor input = torch::randn({1, 3, model.size, model.size});
          xai::core::GradCamSpec spec = Spec(model, layers, method);
          // The top class and one fixed other class, so a second backward is compared too.
          spec.targets = {};
          auto reference = Must(xai::core::RunGradCam(cpu_handle, input, spec), "cpu grad-cam");
          const int top = reference.explanations[0].target;
          spec.targets = {top, static_cast<int>((top + 7) % cpu->num_classes())};
          reference = Must(xai::core::RunGradCam(cpu_handle, input, spec), "cpu grad-cam");
          auto result = Must(xai::core::RunGradCam(dev_handle, input, spec), "device grad-cam");
          logit_diff =
              std::max(logit_diff, (reference.logits - result.logits).abs().max().item<double>());
          for (size_t t = 0; t < spec.targets.size(); ++t) {
            const auto& a = reference.explanations[t];
            const auto& b = result.explanations[t];
            cam_diff = std::max(cam_diff, (a.cam - b.cam).abs().max().item<double>());
            const double scale = std::max(a.raw.abs().max().item<double>(), 1e-12);
            raw_diff = std::max(raw_diff, (a.raw - b.raw).abs().max().item<double>() / scale);
          }
        }
        const bool pass = cam_diff <= 1e-4;
        ok = ok && pass;
        const std::string name(xai::core::CamMethodName(method));
        std::printf("%-10s %-14s %-18s %12.2e %12.2e %12.2e %s\n", model.name.c_str(),
                    Join(layers).c_str(), name.c_str(), cam_diff, raw_diff, logit_diff,
                    pass ? "ok" : "FAIL");
        report.Add("parity", {{"model", Quote(model.name)},
                              {"layers", Quote(Join(layers))},
                              {"method", Quote(name)},
                              {"max_abs_cam_diff", Num(cam_diff)},
                              {"max_rel_raw_diff", Num(raw_diff)},
                              {"max_abs_logit_diff", Num(logit_diff)},
                              {"pass", pass ? "true" : "false"}});
      }
    }
  }
  return ok;
}

// 2. FP16 and BF16 (autocast) against FP32 on the device.
bool CheckPrecision(const std::vector<TestModel>& models, const Options& options, Report& report) {
  std::printf(
      "\n== 2. FP16 and BF16 maps against FP32 on %s (goal: cosine >= 0.99, same peak cell)\n",
      options.device.c_str());
  std::printf("%-10s %-6s %-18s %12s %12s %14s\n", "model", "prec", "method", "min cosine",
              "max|dcam|", "same peak");
  bool ok = true;
  const int inputs = options.quick ? 2 : 8;
  for (const TestModel& model : models) {
    auto fp32 = MakePool(model, options.device, Precision::kFloat32, 1, 1);
    auto h32 = Acquire(*fp32);
    for (Precision precision : {Precision::kFloat16, Precision::kBFloat16}) {
      auto reduced = MakePool(model, options.device, precision, 1, 1);
      auto hr = Acquire(*reduced);
      for (CamMethod method : MapMethods()) {
        double min_cosine = 1, max_diff = 0;
        int same_peak = 0, total = 0;
        for (int k = 0; k < inputs; ++k) {
          torch::manual_seed(2000 + k);
          const at::Tensor input = torch::randn({1, 3, model.size, model.size});
          xai::core::GradCamSpec spec = Spec(model, model.cam_specs[0], method);
          auto a = Must(xai::core::RunGradCam(h32, input, spec), "fp32 grad-cam");
          spec.targets = {a.explanations[0].target};  // the same class at both precisions
          auto b = Must(xai::core::RunGradCam(hr, input, spec), "reduced grad-cam");
          min_cosine = std::min(min_cosine, Cosine(a.explanations[0].cam, b.explanations[0].cam));
          max_diff = std::max(
              max_diff, (a.explanations[0].cam - b.explanations[0].cam).abs().max().item<double>());
          same_peak += PeakCell(a.explanations[0].raw) == PeakCell(b.explanations[0].raw);
          ++total;
        }
        const bool pass = min_cosine >= 0.99 && same_peak == total;
        ok = ok && pass;
        const std::string name(xai::core::CamMethodName(method));
        std::printf("%-10s %-6s %-18s %12.6f %12.2e %10d/%-3d %s\n", model.name.c_str(),
                    xai::core::PrecisionName(precision), name.c_str(), min_cosine, max_diff,
                    same_peak, total, pass ? "ok" : "FAIL");
        report.Add("precision", {{"model", Quote(model.name)},
                                 {"precision", Quote(xai::core::PrecisionName(precision))},
                                 {"method", Quote(name)},
                                 {"min_cosine", Num(min_cosine)},
                                 {"max_abs_cam_diff", Num(max_diff)},
                                 {"same_peak", std::to_string(same_peak)},
                                 {"inputs", std::to_string(total)},
                                 {"pass", pass ? "true" : "false"}});
      }
    }
  }
  return ok;
}

// 3. Batched Grad-CAM against the plain batched forward, images per second.
void MeasureThroughput(const TestModel& model, const Options& options, Report& report) {
  const c10::Device device(options.device);
  std::vector<int64_t> batches = {1, 2, 4, 8, 16, 32, 64};
  if (options.quick) batches = {1, 2};
  const double seconds = options.quick ? 0.2 : 1.0;
  std::printf(
      "\n== 3. Batched GRAD_CAM on %s against the plain batched forward (goal: >= 0.8x at "
      "the best batch)\n",
      model.name.c_str());
  std::printf("%-6s %6s %14s %14s %8s %12s\n", "prec", "batch", "forward img/s", "gradcam img/s",
              "ratio", "peak MiB");
  for (Precision precision : {Precision::kFloat32, Precision::kFloat16}) {
    if (!device.is_cuda() && precision != Precision::kFloat32) continue;
    auto pool = MakePool(model, options.device, precision, 1, static_cast<int>(batches.back()));
    auto handle = Acquire(*pool);
    double best = 0, best_rate = 0;
    int64_t best_batch = 0;
    for (int64_t batch : batches) {
      torch::manual_seed(3000 + batch);
      const at::Tensor input = torch::randn({batch, 3, model.size, model.size});
      const xai::core::GradCamSpec spec = Spec(model, model.cam_specs[0], CamMethod::kGradCam);
      const std::vector<std::vector<int>> targets(batch);
      ResetPeak(device);
      const std::vector<double> medians = Medians(
          {[&] { Must(xai::core::ForwardLogits(handle, input), "forward"); },
           [&] { Must(xai::core::RunGradCamBatch(handle, input, spec, targets), "grad-cam"); }},
          3, 5, seconds);
      const double forward = medians[0], cam = medians[1];
      const MemoryMark memory = Peak(device);
      const double ratio = forward / cam;
      if (batch / cam > best_rate) {
        best_rate = batch / cam;
        best = ratio;
        best_batch = batch;
      }
      std::printf("%-6s %6lld %14.1f %14.1f %7.2fx %12.1f\n", xai::core::PrecisionName(precision),
                  static_cast<long long>(batch), batch / forward, batch / cam, ratio,
                  memory.peak_allocated_mib);
      report.Add("throughput", {{"model", Quote(model.name)},
                                {"precision", Quote(xai::core::PrecisionName(precision))},
                                {"batch", std::to_string(batch)},
                                {"forward_images_per_s", Num(batch / forward)},
                                {"gradcam_images_per_s", Num(batch / cam)},
                                {"ratio", Num(ratio)},
                                {"peak_allocated_mib", Num(memory.peak_allocated_mib)},
                                {"peak_reserved_mib", Num(memory.peak_reserved_mib)}});
    }
    std::printf(
        "%-6s at the best batch (%lld, the most Grad-CAM images/s): %.2fx the forward "
        "(goal 0.8x: %s)\n",
        xai::core::PrecisionName(precision), static_cast<long long>(best_batch), best,
        best >= 0.8 ? "met" : "not met");
  }
}

// 7. SCORE_CAM on the device: its maps against the CPU's (two targets, their masked inputs
// forwarded once), and its time against one plain forward.
bool MeasureScoreCam(const TestModel& model, const Options& options, Report& report) {
  std::printf(
      "\n== 7. SCORE_CAM on %s at %s, two targets, batches of 64 (goal: maps within "
      "1e-3 of the CPU's)\n",
      model.name.c_str(), Join(model.cam_specs[0]).c_str());
  auto cpu = MakePool(model, "cpu", Precision::kFloat32, 1, 1);
  auto dev = MakePool(model, options.device, Precision::kFloat32, 1, 1);
  auto cpu_handle = Acquire(*cpu);
  auto dev_handle = Acquire(*dev);
  torch::manual_seed(7000);
  const at::Tensor input = torch::randn({1, 3, model.size, model.size});
  xai::core::GradCamSpec spec = Spec(model, model.cam_specs[0], CamMethod::kScoreCam);
  spec.targets = {0, 1};
  auto reference = Must(xai::core::RunGradCam(cpu_handle, input, spec), "cpu score-cam");
  auto result = Must(xai::core::RunGradCam(dev_handle, input, spec), "device score-cam");
  double cam_diff = 0;
  for (size_t t = 0; t < spec.targets.size(); ++t) {
    cam_diff = std::max(
        cam_diff,
        (reference.explanations[t].cam - result.explanations[t].cam).abs().max().item<double>());
  }
  const double seconds = options.quick ? 0.2 : 2.0;
  const std::vector<double> medians =
      Medians({[&] { Must(xai::core::ForwardLogits(dev_handle, input), "forward"); },
               [&] { Must(xai::core::RunGradCam(dev_handle, input, spec), "score-cam"); }},
              1, 3, seconds);
  const bool pass = cam_diff <= 1e-3;
  std::printf("max|dcam| %.2e %s; SCORE_CAM %.1f ms, plain forward %.2f ms: %.0fx\n", cam_diff,
              pass ? "ok" : "FAIL", medians[1] * 1e3, medians[0] * 1e3, medians[1] / medians[0]);
  report.Add("score_cam", {{"model", Quote(model.name)},
                           {"max_cam_difference", Num(cam_diff)},
                           {"score_cam_ms", Num(medians[1] * 1e3)},
                           {"forward_ms", Num(medians[0] * 1e3)}});
  return pass;
}

// 8. The faithfulness metrics of one Grad-CAM map, and ABLATION_CAM where the graph splits
// (traced resnet18, layer4) and where it does not (scripted resnet18, layer4.1.relu, which
// its BasicBlock calls twice: full forwards): the device against the CPU, and their times.
bool MeasureMetricsAndAblation(const TestModel& model, const std::filesystem::path& repo,
                               const Options& options, Report& report) {
  std::printf(
      "\n== 8. Faithfulness metrics (16 steps, random baseline) and ABLATION_CAM (suffix and "
      "full forwards) on %s (goal: within 1e-3 of the CPU's)\n",
      model.name.c_str());
  auto cpu = MakePool(model, "cpu", Precision::kFloat32, 1, 1);
  auto dev = MakePool(model, options.device, Precision::kFloat32, 1, 1);
  auto cpu_handle = Acquire(*cpu);
  auto dev_handle = Acquire(*dev);
  torch::manual_seed(8000);
  const at::Tensor input = torch::randn({1, 3, model.size, model.size});
  xai::core::GradCamSpec grad_cam = Spec(model, {"layer4"}, CamMethod::kGradCam);
  auto map = Must(xai::core::RunGradCam(cpu_handle, input, grad_cam), "cpu grad-cam");
  const std::vector<xai::core::ScoredMap> maps = {
      {map.explanations[0].target, map.explanations[0].cam}};
  xai::core::FaithfulnessSpec metrics;
  metrics.random_baseline = true;
  auto cpu_scores = Must(xai::core::ScoreMaps(cpu_handle, input, maps, metrics), "cpu metrics");
  auto dev_scores = Must(xai::core::ScoreMaps(dev_handle, input, maps, metrics), "dev metrics");
  double metric_diff = 0;
  const auto compare = [&metric_diff](const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
      metric_diff = std::max(metric_diff, std::abs(static_cast<double>(a[k]) - b[k]));
    }
  };
  compare(cpu_scores[0].map.deletion_curve, dev_scores[0].map.deletion_curve);
  compare(cpu_scores[0].map.insertion_curve, dev_scores[0].map.insertion_curve);
  compare(cpu_scores[0].random->deletion_curve, dev_scores[0].random->deletion_curve);
  const bool metrics_pass = metric_diff <= 1e-3;
  const double seconds = options.quick ? 0.2 : 2.0;
  const std::vector<double> metric_times = Medians(
      {[&] { Must(xai::core::ForwardLogits(dev_handle, input), "forward"); },
       [&] { Must(xai::core::ScoreMaps(dev_handle, input, maps, metrics), "dev metrics"); }},
      1, 3, seconds);
  std::printf(
      "metrics: max|dp| %.2e %s (deletion AUC %.4f, random %.4f); %.1f ms, plain forward "
      "%.2f ms: %.1fx\n",
      metric_diff, metrics_pass ? "ok" : "FAIL", dev_scores[0].map.deletion_auc,
      dev_scores[0].random->deletion_auc, metric_times[1] * 1e3, metric_times[0] * 1e3,
      metric_times[1] / metric_times[0]);
  report.Add("metrics", {{"model", Quote(model.name)},
                         {"max_probability_difference", Num(metric_diff)},
                         {"metrics_ms", Num(metric_times[1] * 1e3)},
                         {"forward_ms", Num(metric_times[0] * 1e3)}});

  bool ablation_pass = true;
  TestModel scripted = model;
  scripted.name = "resnet18_scripted";
  scripted.path = (repo / "resnet18_scripted/1/model.pt").string();
  const std::vector<std::pair<const TestModel*, std::string>> cases = {
      {&model, "layer4"}, {&scripted, "layer4.1.relu"}};
  for (const auto& [m, layer] : cases) {
    if (!std::filesystem::exists(m->path)) {
      std::printf("ABLATION_CAM at %s: no %s\n", layer.c_str(), m->path.c_str());
      continue;
    }
    auto cpu_pool = MakePool(*m, "cpu", Precision::kFloat32, 1, 1);
    auto dev_pool = MakePool(*m, options.device, Precision::kFloat32, 1, 1);
    auto c = Acquire(*cpu_pool);
    auto d = Acquire(*dev_pool);
    xai::core::GradCamSpec spec = Spec(*m, {layer}, CamMethod::kAblationCam);
    auto reference = Must(xai::core::RunGradCam(c, input, spec), "cpu ablation-cam");
    auto result = Must(xai::core::RunGradCam(d, input, spec), "device ablation-cam");
    const double diff =
        (reference.explanations[0].cam - result.explanations[0].cam).abs().max().item<double>();
    const std::vector<double> times =
        Medians({[&] { Must(xai::core::ForwardLogits(d, input), "forward"); },
                 [&] { Must(xai::core::RunGradCam(d, input, spec), "ablation-cam"); }},
                1, 3, seconds);
    const bool pass = diff <= 1e-3;
    ablation_pass = ablation_pass && pass;
    std::printf("ABLATION_CAM %s at %s: max|dcam| %.2e %s; %.1f ms, plain forward %.2f ms: %.1fx\n",
                m->name.c_str(), layer.c_str(), diff, pass ? "ok" : "FAIL", times[1] * 1e3,
                times[0] * 1e3, times[1] / times[0]);
    report.Add("ablation_cam", {{"model", Quote(m->name)},
                                {"layer", Quote(layer)},
                                {"max_cam_difference", Num(diff)},
                                {"ablation_cam_ms", Num(times[1] * 1e3)},
                                {"forward_ms", Num(times[0] * 1e3)}});
  }
  return metrics_pass && ablation_pass;
}

// 9. Pixel attributions on the device: Integrated Gradients (50 Gauss-Legendre steps, batches
// of 32 and 64, and adaptive at 0.05), SmoothGrad and GradientShap (seeded: the same draws on
// both), each against the CPU's (relative to the largest attribution), and their times.
bool MeasureAttributions(const TestModel& model, const Options& options, Report& report) {
  std::printf(
      "\n== 9. Pixel attributions on %s (goal: within 1e-3 of the CPU's, relative to the "
      "largest attribution)\n",
      model.name.c_str());
  auto cpu = MakePool(model, "cpu", Precision::kFloat32, 1, 1);
  auto dev = MakePool(model, options.device, Precision::kFloat32, 1, 1);
  auto cpu_handle = Acquire(*cpu);
  auto dev_handle = Acquire(*dev);
  torch::manual_seed(9000);
  const at::Tensor input = torch::randn({1, 3, model.size, model.size});
  const std::vector<at::Tensor> baselines = {at::zeros_like(input)};
  struct Case {
    std::string name;
    xai::core::AttributionSpec spec;
  };
  std::vector<Case> cases;
  for (const int batch : {32, 64}) {
    xai::core::AttributionSpec ig;
    ig.batch_size = batch;
    cases.push_back({"INTEGRATED_GRADIENTS 50 steps, batch " + std::to_string(batch), ig});
  }
  xai::core::AttributionSpec adaptive;
  adaptive.steps = 256;
  adaptive.max_approximation_error = 0.05;
  cases.push_back({"INTEGRATED_GRADIENTS adaptive 0.05", adaptive});
  xai::core::AttributionSpec smooth;
  smooth.method = xai::core::AttributionMethod::kSmoothGrad;
  smooth.samples = 16;
  smooth.noise_sigma = 0.15 * (input.max() - input.min()).item<double>();
  smooth.seed = 3;
  cases.push_back({"SMOOTH_GRAD 16 samples", smooth});
  xai::core::AttributionSpec shap;
  shap.method = xai::core::AttributionMethod::kGradientShap;
  shap.samples = 16;
  shap.seed = 3;
  cases.push_back({"GRADIENT_SHAP 16 samples", shap});
  const double seconds = options.quick ? 0.2 : 2.0;
  bool pass = true;
  for (const Case& c : cases) {
    auto reference = Must(xai::core::RunAttribution(cpu_handle, input, baselines, c.spec), "cpu");
    auto result = Must(xai::core::RunAttribution(dev_handle, input, baselines, c.spec), "device");
    const at::Tensor& a = reference.attributions[0].output.attribution;
    const at::Tensor& b = result.attributions[0].output.attribution;
    const double diff = (a - b).abs().max().item<double>() / a.abs().max().item<double>();
    const std::vector<double> times = Medians(
        {[&] { Must(xai::core::ForwardLogits(dev_handle, input), "forward"); },
         [&] {
           Must(xai::core::RunAttribution(dev_handle, input, baselines, c.spec), "attribution");
         }},
        1, 3, seconds);
    const bool ok = diff <= 1e-3;
    pass = pass && ok;
    std::printf("%s: max|da|/max|a| %.2e %s (steps %d); %.1f ms, plain forward %.2f ms: %.0fx\n",
                c.name.c_str(), diff, ok ? "ok" : "FAIL", result.attributions[0].output.steps,
                times[1] * 1e3, times[0] * 1e3, times[1] / times[0]);
    report.Add("attribution", {{"case", Quote(c.name)},
                               {"max_relative_difference", Num(diff)},
                               {"steps", std::to_string(result.attributions[0].output.steps)},
                               {"attribution_ms", Num(times[1] * 1e3)},
                               {"forward_ms", Num(times[0] * 1e3)}});
  }
  return pass;
}

// 4. Two instances on one device, each with its own stream, against one.
void MeasureInstances(const TestModel& model, const Options& options, Report& report) {
  std::printf("\n== 4. Two instances on %s with their own streams against one (GRAD_CAM)\n",
              options.device.c_str());
  std::printf("%6s %16s %16s %8s\n", "batch", "1 inst img/s", "2 inst img/s", "ratio");
  const double seconds = options.quick ? 0.3 : 2.0;
  for (int64_t batch : {int64_t{1}, int64_t{8}}) {
    auto pool = MakePool(model, options.device, Precision::kFloat32, 2, static_cast<int>(batch));
    torch::manual_seed(4000 + batch);
    const at::Tensor input = torch::randn({batch, 3, model.size, model.size});
    const xai::core::GradCamSpec spec = Spec(model, model.cam_specs[0], CamMethod::kGradCam);
    const std::vector<std::vector<int>> targets(batch);
    // Images per second of `threads` callers, each holding an instance for the whole run.
    auto run = [&](int threads) {
      std::vector<std::thread> workers;
      std::vector<double> rates(threads, 0);
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          auto handle = Acquire(*pool);
          for (int i = 0; i < 2; ++i) {
            Must(xai::core::RunGradCamBatch(handle, input, spec, targets), "grad-cam");
          }
          int64_t done = 0;
          const auto begin = Clock::now();
          double elapsed = 0;
          while (elapsed < seconds) {
            Must(xai::core::RunGradCamBatch(handle, input, spec, targets), "grad-cam");
            done += batch;
            elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
          }
          rates[t] = static_cast<double>(done) / elapsed;
        });
      }
      for (auto& w : workers) w.join();
      double total = 0;
      for (double r : rates) total += r;
      return total;
    };
    const double one = run(1);
    const double two = run(2);
    std::printf("%6lld %16.1f %16.1f %7.2fx\n", static_cast<long long>(batch), one, two, two / one);
    report.Add("instances", {{"model", Quote(model.name)},
                             {"batch", std::to_string(batch)},
                             {"one_instance_images_per_s", Num(one)},
                             {"two_instances_images_per_s", Num(two)},
                             {"ratio", Num(two / one)}});
  }
}

// 5. DecisionPath against the plain forward of one image: its transitions' products one
// backward per channel (sequential) and as one batched backward (batched), which must agree.
bool MeasureDecisionPath(const std::vector<TestModel>& models, const Options& options,
                         Report& report) {
  const c10::Device device(options.device);
  std::printf(
      "\n== 5. DecisionPath on %s against the plain forward (goal: <= 3x); batched "
      "transitions against sequential (goal: within 1e-4)\n",
      options.device.c_str());
  std::printf("%-10s %10s %12s %12s %8s %8s %10s %9s %10s\n", "model", "fwd ms", "seq ms",
              "batched ms", "seq x", "batch x", "max|dw|", "batched", "peak MiB");
  xai::core::ComputePool compute(0);
  bool ok = true;
  for (const TestModel& model : models) {
    auto pool = MakePool(model, options.device, Precision::kFloat32, 1, 1);
    auto handle = Acquire(*pool);
    torch::manual_seed(5000);
    const at::Tensor input = torch::randn({1, 3, model.size, model.size});
    xai::core::DecisionPathSpec spec;
    spec.layers = model.path_layers;
    const double forward =
        Median([&] { Must(xai::core::ForwardLogits(handle, input), "forward"); }, 3, 10, 0.3);
    xai::core::DecisionPathOutput result[2];
    double ms[2] = {0, 0};
    ResetPeak(device);
    for (int mode = 0; mode < 2; ++mode) {
      spec.transitions = mode == 0 ? xai::core::PathTransitions::kSequential
                                   : xai::core::PathTransitions::kBatched;
      ms[mode] = 1e3 * Median(
                           [&] {
                             result[mode] = Must(
                                 xai::core::RunDecisionPath(handle, input, spec, &compute), "path");
                           },
                           1, options.quick ? 2 : 5, options.quick ? 0.2 : 1.0);
    }
    const MemoryMark memory = Peak(device);
    double max_dw = 0;
    bool same = result[0].edges.size() == result[1].edges.size() &&
                result[0].chains.size() == result[1].chains.size();
    for (size_t i = 0; same && i < result[0].edges.size(); ++i) {
      same = result[0].edges[i].from_channel == result[1].edges[i].from_channel &&
             result[0].edges[i].to_channel == result[1].edges[i].to_channel;
      max_dw = std::max(max_dw, static_cast<double>(std::abs(result[0].edges[i].weight -
                                                             result[1].edges[i].weight)));
    }
    for (size_t i = 0; same && i < result[0].chains.size(); ++i) {
      same = result[0].chains[i].channels == result[1].chains[i].channels;
    }
    int batched = 0;
    for (bool b : result[1].batched_transitions) batched += b;
    const bool pass = same && max_dw <= 1e-4;
    ok = ok && pass;
    const double forward_ms = forward * 1e3;
    std::printf("%-10s %10.2f %12.2f %12.2f %7.2fx %7.2fx %10.2e %5d/%-3zu %10.1f %s\n",
                model.name.c_str(), forward_ms, ms[0], ms[1], ms[0] / forward_ms,
                ms[1] / forward_ms, same ? max_dw : NAN, batched,
                result[1].batched_transitions.size(), memory.peak_allocated_mib,
                pass ? "ok" : "FAIL");
    report.Add("decision_path", {{"model", Quote(model.name)},
                                 {"forward_ms", Num(forward_ms)},
                                 {"sequential_ms", Num(ms[0])},
                                 {"batched_ms", Num(ms[1])},
                                 {"sequential_ratio", Num(ms[0] / forward_ms)},
                                 {"batched_ratio", Num(ms[1] / forward_ms)},
                                 {"max_abs_edge_weight_diff", Num(same ? max_dw : NAN)},
                                 {"same_graph", same ? "true" : "false"},
                                 {"batched_transitions", std::to_string(batched)},
                                 {"nodes", std::to_string(result[1].nodes.size())},
                                 {"peak_allocated_mib", Num(memory.peak_allocated_mib)},
                                 {"pass", pass ? "true" : "false"}});
  }
  return ok;
}

// 1b. Where CUDA's float32 differs from the CPU's: both against a float64 forward on the
// CPU (traced models carry the tracer's TF32 flag, which the pool clears on CUDA).
void DiagnoseParity(const std::vector<TestModel>& models, const Options& options, Report& report) {
  std::printf(
      "\n== 1b. Float32 logits against a float64 CPU forward (max |dlogit| / max "
      "|logit|)\n");
  std::printf("%-10s %12s %12s\n", "model", "cpu fp32", options.device.c_str());
  for (const TestModel& model : models) {
    torch::manual_seed(1000);
    const at::Tensor input = torch::randn({1, 3, model.size, model.size});
    torch::jit::Module exact = torch::jit::load(model.path, c10::kCPU);
    exact.eval();
    exact.to(at::kDouble);
    at::Tensor reference;
    {
      c10::InferenceMode guard;
      reference = exact.forward({input.to(at::kDouble)}).toTensor();
    }
    const double scale = reference.abs().max().item<double>();
    auto relative = [&](const at::Tensor& logits) {
      return (logits.to(at::kDouble).view_as(reference) - reference).abs().max().item<double>() /
             scale;
    };
    auto cpu = MakePool(model, "cpu", Precision::kFloat32, 1, 1);
    auto dev = MakePool(model, options.device, Precision::kFloat32, 1, 1);
    auto hc = Acquire(*cpu);
    auto hd = Acquire(*dev);
    const double cpu_error = relative(Must(xai::core::ForwardLogits(hc, input), "forward"));
    const double dev_error = relative(Must(xai::core::ForwardLogits(hd, input), "forward"));
    std::printf("%-10s %12.2e %12.2e\n", model.name.c_str(), cpu_error, dev_error);
    report.Add("parity_diagnosis", {{"model", Quote(model.name)},
                                    {"cpu_fp32_relative_logit_error", Num(cpu_error)},
                                    {"device_fp32_relative_logit_error", Num(dev_error)}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseArgs(argc, argv);
  c10::Device device = c10::kCPU;
  try {
    device = c10::Device(options.device);
  } catch (const std::exception&) {
    Usage("--device must be cpu or cuda:N, got " + options.device);
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::cerr << "xai-gpu-check: LibTorch sees no CUDA device (a CPU build, or no driver)\n";
    return 2;
  }
  if (device.is_cuda() && !device.has_index()) device.set_index(0);

  const std::filesystem::path repo = std::filesystem::path(options.fixtures) / "repo";
  std::vector<TestModel> models;
  models.push_back({"resnet18",
                    (repo / "resnet18/1/model.pt").string(),
                    224,
                    {{"layer4"}, {"layer3", "layer4"}},
                    {"layer1", "layer2", "layer3", "layer4"}});
  if (!std::filesystem::exists(models[0].path)) Usage("no model at " + models[0].path);
  // The demo model, when its file is there and loads with this LibTorch (it was saved by
  // another): a trained network, whose maps have structure that random weights lack.
  const TestModel shapes{"shapes",
                         (repo / "shapes/1/model.pt").string(),
                         64,
                         {{"stage4"}},
                         {"stage1", "stage2", "stage3", "stage4"}};
  if (std::filesystem::exists(shapes.path)) {
    auto loaded = CreatePool(shapes, device.str(), Precision::kFloat32, 1, 1);
    if (loaded.ok()) {
      models.push_back(shapes);
    } else {
      std::printf("(the demo model is left out: %s)\n", loaded.status().ToString().c_str());
    }
  }

  std::printf(
      "xai-gpu-check: LibTorch %s, device %s (%d CUDA device(s)), %d intra-op threads, "
      "TF32 off: %s, allocator statistics: %s\n",
      TORCH_VERSION, device.str().c_str(),
      torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0,
      at::get_num_threads(), xai::core::UseExactFloat32OnCuda() ? "yes" : "no",
#ifdef XAI_HAVE_CUDA_STATS
      "yes"
#else
      "no (nvidia-smi only)"
#endif
  );
  Report report;
  g_report = &report;
  g_report_path = options.json;
  report.Add("environment", {{"libtorch", Quote(TORCH_VERSION)},
                             {"device", Quote(device.str())},
                             {"intra_op_threads", std::to_string(at::get_num_threads())}});
  const auto start = Clock::now();
  bool ok = true;
  if (!device.is_cuda()) {
    std::printf(
        "\n(CPU device: sections 1, 1b and 2 compare the CPU with itself; they only "
        "exercise the code)\n");
  }
  ok = CheckParity(models, options, report) && ok;
  DiagnoseParity(models, options, report);
  ok = CheckPrecision(models, options, report) && ok;
  MeasureThroughput(models[0], options, report);
  MeasureInstances(models[0], options, report);
  ok = MeasureDecisionPath(models, options, report) && ok;
  ok = MeasureScoreCam(models[0], options, report) && ok;
  ok = MeasureMetricsAndAblation(models[0], repo, options, report) && ok;
  ok = MeasureAttributions(models[0], options, report) && ok;
  const double used = SmiUsedMib(device);
  std::printf(
      "\n== 6. Device memory: nvidia-smi reports %.0f MiB in use on the GPU at the end "
      "(all processes, CUDA context included)\n",
      used);
  report.Add("memory", {{"nvidia_smi_used_mib", Num(used)}});
  // What the server's xai_cuda_memory_*_bytes gauges read (empty on a build without CUDA).
  for (const xai::core::DeviceMemory& memory : xai::core::CudaMemory()) {
    std::printf("   %s: %.0f MiB allocated, %.0f MiB reserved (the server's metrics' source)\n",
                memory.device.c_str(), memory.allocated_bytes / 1048576.0,
                memory.reserved_bytes / 1048576.0);
    report.Add("memory_" + memory.device,
               {{"allocated_mib", Num(memory.allocated_bytes / 1048576.0)},
                {"reserved_mib", Num(memory.reserved_bytes / 1048576.0)}});
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("\nxai-gpu-check: %s in %.0f s\n",
              ok ? "every correctness check passed" : "A CHECK FAILED", elapsed);
  report.Add("summary", {{"pass", ok ? "true" : "false"}, {"seconds", Num(elapsed)}});
  report.Write(options.json);
  return ok ? 0 : 1;
}
