// xai-bench: what the Explainer RPCs cost next to the plain LibTorch forward of the same
// TorchScript file, measured in the same run, so that every figure is also a ratio
// (absolute times are noisy on shared machines).
//
//  1. Latency, one call at a time: the plain forward at batch 1, Classify, GradCAM (raw
//     maps), GradCAM with an overlay PNG and DecisionPath, in interleaved rounds; with
//     --methods, GradCAM once more per CAM method named; with --faithfulness-steps, GRAD_CAM
//     with the faithfulness metrics.
//  2. Throughput of the plain forward at batch sizes 1, 2, 4, ... and the best of them.
//  3. Throughput and p50/p90/p99 latency of Classify and GradCAM driven by C concurrent
//     callers, N calls each level, for C in the concurrency list; with --plot, a PNG of
//     the curve.
//
// The server is started in this process on an ephemeral port unless --server names a
// running one; either way it is called through the gRPC stub, as a client would, with an
// encoded image: the figures include transport, decoding, preprocessing and the response.
#include <ATen/Parallel.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <torch/script.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/measure.h"
#include "core/base/command_line.h"
#include "core/base/files.h"
#include "core/image/image_preprocessor.h"
#include "core/repository/model_config.h"
#include "core/runtime/runtime_info.h"
#include "server/server.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace {

using xai::bench::Clock;
using xai::bench::Ms;
using xai::bench::Stats;
using xai::bench::Summarise;

struct Case {
  std::string name;
  std::function<bool()> run;  // false: the call failed
  std::vector<double> ms;
};

// Interleaved rounds: each round runs every case once, in turn, so that a machine that
// slows down or speeds up during the run moves all figures alike and the ratios hold.
bool MeasureInterleaved(int warmup, int iterations, std::vector<Case>& cases) {
  for (int i = 0; i < warmup; ++i) {
    for (Case& c : cases) {
      if (!c.run()) return false;
    }
  }
  for (int i = 0; i < iterations; ++i) {
    for (Case& c : cases) {
      const auto start = Clock::now();
      if (!c.run()) return false;
      c.ms.push_back(Ms(Clock::now() - start));
    }
  }
  return true;
}

// One level of the concurrency sweep: `calls` calls by `concurrency` callers.
struct Level {
  int concurrency = 0;
  Stats latency;
  double per_second = 0;
  int failed = 0;
};

Level RunConcurrent(int calls, int concurrency, const std::function<bool()>& call) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::vector<double>> ms(concurrency);
  const auto start = Clock::now();
  std::vector<std::thread> callers;
  for (int t = 0; t < concurrency; ++t) {
    callers.emplace_back([&, t] {
      while (next.fetch_add(1) < calls) {
        const auto begin = Clock::now();
        if (!call()) ++failed;
        ms[t].push_back(Ms(Clock::now() - begin));
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  const double seconds = Ms(Clock::now() - start) / 1000.0;
  std::vector<double> all;
  for (const auto& m : ms) all.insert(all.end(), m.begin(), m.end());
  return {concurrency, Summarise(all), calls / seconds, failed.load()};
}

// A 224x224-ish JPEG of smooth structure, when no image is given.
std::string SyntheticJpeg(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(255 * x / width), static_cast<uchar>(255 * y / height),
                    static_cast<uchar>(128 + 127 * std::sin(0.05 * (x + y))));
    }
  }
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(jpeg.begin(), jpeg.end());
}

// Throughput over concurrency, one line per method, and the plain forward's best batch
// and batch 1 as horizontal references.
void Plot(const std::string& path, const std::string& title, const std::vector<Level>& classify,
          const std::vector<Level>& gradcam, double plain_best, int best_batch, double plain_one) {
  const int width = 760, height = 460, left = 70, right = 200, top = 40, bottom = 50;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  double top_value = std::max(plain_best, plain_one);
  for (const auto* levels : {&classify, &gradcam}) {
    for (const Level& l : *levels) top_value = std::max(top_value, l.per_second);
  }
  top_value *= 1.15;
  const size_t n = std::max(classify.size(), gradcam.size());
  const int plot_w = width - left - right, plot_h = height - top - bottom;
  auto x_at = [&](size_t i) {
    return left + (n <= 1 ? plot_w / 2 : static_cast<int>(i * plot_w / (n - 1)));
  };
  auto y_at = [&](double v) { return top + plot_h - static_cast<int>(v / top_value * plot_h); };
  const cv::Scalar black(0, 0, 0), grey(150, 150, 150);
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  cv::rectangle(canvas, {left, top}, {left + plot_w, top + plot_h}, black, 1);
  for (int k = 0; k <= 4; ++k) {
    const double v = top_value * k / 4;
    cv::line(canvas, {left - 4, y_at(v)}, {left, y_at(v)}, black, 1);
    char label[32];
    std::snprintf(label, sizeof(label), "%.1f", v);
    cv::putText(canvas, label, {8, y_at(v) + 5}, font, 0.45, black, 1, cv::LINE_AA);
  }
  const std::vector<Level>& axis = classify.size() >= gradcam.size() ? classify : gradcam;
  for (size_t i = 0; i < axis.size(); ++i) {
    cv::putText(canvas, std::to_string(axis[i].concurrency), {x_at(i) - 6, top + plot_h + 20}, font,
                0.45, black, 1, cv::LINE_AA);
  }
  cv::putText(canvas, "concurrent callers", {left + plot_w / 2 - 70, height - 10}, font, 0.5, black,
              1, cv::LINE_AA);
  cv::putText(canvas, "images/s", {8, top - 12}, font, 0.5, black, 1, cv::LINE_AA);
  cv::putText(canvas, title, {left + 90, 20}, font, 0.5, black, 1, cv::LINE_AA);
  auto dashed = [&](double v, const cv::Scalar& colour) {
    for (int x = left; x < left + plot_w; x += 12) {
      cv::line(canvas, {x, y_at(v)}, {std::min(x + 6, left + plot_w), y_at(v)}, colour, 2);
    }
  };
  dashed(plain_best, cv::Scalar(60, 60, 60));
  dashed(plain_one, grey);
  auto series = [&](const std::vector<Level>& levels, const cv::Scalar& colour) {
    for (size_t i = 0; i < levels.size(); ++i) {
      const cv::Point p(x_at(i), y_at(levels[i].per_second));
      cv::circle(canvas, p, 4, colour, cv::FILLED, cv::LINE_AA);
      if (i > 0)
        cv::line(canvas, {x_at(i - 1), y_at(levels[i - 1].per_second)}, p, colour, 2, cv::LINE_AA);
    }
  };
  const cv::Scalar blue(200, 90, 20), red(40, 40, 210);
  series(classify, blue);
  series(gradcam, red);
  const int lx = left + plot_w + 14;
  auto legend = [&](int row, const cv::Scalar& colour, const std::string& text) {
    cv::line(canvas, {lx, top + 10 + row * 24}, {lx + 24, top + 10 + row * 24}, colour, 2);
    cv::putText(canvas, text, {lx + 30, top + 15 + row * 24}, font, 0.42, black, 1, cv::LINE_AA);
  };
  legend(0, blue, "Classify RPC");
  legend(1, red, "GradCAM RPC");
  legend(2, cv::Scalar(60, 60, 60), "forward, batch " + std::to_string(best_batch));
  legend(3, grey, "forward, batch 1");
  cv::imwrite(path, canvas);
}

}  // namespace

int main(int argc, char** argv) {
  std::string repository;
  std::string model = "resnet18";
  std::string server_address;
  std::string image_path;
  std::string layer;
  std::string concurrency_list = "1,2,4,8,16";
  std::string batch_list = "1,2,4,8,16";
  std::string plot_path;
  int iterations = 25;
  int warmup = 5;
  int calls = 64;
  int intra_op_threads = 0;
  int64_t cache_bytes = 0;
  bool skip_latency = false;
  bool skip_throughput = false;

  CLI::App app{
      "xai-bench: latency and throughput of Classify and GradCAM calls on a model, next to the\n"
      "plain no-grad LibTorch forward of the same file on the same input, measured in the same\n"
      "run; every figure is also printed as a ratio to that forward. The model's config.pbtxt\n"
      "decides batching and instances. A repository with a random-weight resnet18 that batches:\n"
      "  /usr/bin/python3 tools/make_fixtures.py --out /tmp/xai-fixtures\n"
      "  xai-bench --model-repository /tmp/xai-fixtures/bench --model resnet18"};
  app.add_option(
         "--model-repository", repository,
         "Model repository (the plain forward loads <dir>/<model>/<version>/model.pt from it)")
      ->required();
  app.add_option("--model", model, "Model name")->capture_default_str();
  app.add_option(
      "--server", server_address,
      "host:port of a running xai-server serving the same repository (default: start one "
      "in this process)");
  app.add_option("--image", image_path,
                 "Image file sent encoded (default: a synthetic 224x224 JPEG, quality 90)");
  app.add_option("--layer", layer, "GradCAM layer (default: the model's)");
  app.add_option("-n,--iterations", iterations, "Latency: timed rounds")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "Latency: untimed rounds first")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("--calls", calls, "Throughput: calls per concurrency level and method")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--concurrency", concurrency_list,
                 "Throughput: concurrency levels, comma-separated")
      ->capture_default_str();
  app.add_option("--batch-sizes", batch_list, "Plain forward: batch sizes tried, comma-separated")
      ->capture_default_str();
  app.add_option("--plot", plot_path, "Write the throughput curve to this PNG");
  std::string methods_list;
  app.add_option("--methods", methods_list,
                 "Latency: one more GradCAM row (raw maps) per CAM method, comma-separated "
                 "names as in the API (e.g. EIGEN_CAM,LAYER_CAM); the GRAD_CAM row is always "
                 "there");
  int faithfulness_steps = 0;
  app.add_option("--faithfulness-steps", faithfulness_steps,
                 "Latency: one more row, GRAD_CAM with the faithfulness metrics in this many "
                 "steps (docs/METHODS.md; 0: no such row)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  app.add_flag("--skip-latency", skip_latency, "Skip table 1 (latency one call at a time)");
  app.add_flag("--skip-throughput", skip_throughput, "Skip tables 2 and 3 (throughput)");
  bool metrics = true;
  app.add_flag("--metrics,!--no-metrics", metrics,
               "The in-process server counts every call for /metrics, as in production "
               "(--no-metrics: off, to measure what counting costs)")
      ->capture_default_str();
  app.add_option("--cache-bytes", cache_bytes,
                 "The in-process server's explanation cache: latency table 1 then adds "
                 "Classify and GradCAM answered from it (cache hit); every other call sets "
                 "no_cache (0: no cache)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--intra-op-threads", intra_op_threads,
                 "LibTorch intra-op threads, for the in-process server and the plain forward "
                 "(0: LibTorch's default)")
      ->capture_default_str();
  // `--flag=` is the empty value, not `--flag` and the next argument (CommandLine).
  xai::CommandLine command_line(argc, argv);
  CLI11_PARSE(app, command_line.argc(), command_line.argv());
  spdlog::set_level(spdlog::level::warn);
  std::vector<xai::v1::CamMethod> extra_methods;
  for (size_t start = 0; start < methods_list.size();) {
    const size_t comma = std::min(methods_list.find(',', start), methods_list.size());
    std::string name = methods_list.substr(start, comma - start);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    xai::v1::CamMethod method;
    if (!xai::v1::CamMethod_Parse(name, &method) || method == xai::v1::CAM_METHOD_UNSPECIFIED) {
      std::fprintf(stderr, "xai-bench: --methods: \"%s\" is not a CAM method\n", name.c_str());
      return 2;
    }
    extra_methods.push_back(method);
    start = comma + 1;
  }
  const std::vector<int> levels = xai::bench::ParseList(concurrency_list, 1, 1024);
  const std::vector<int> batches = xai::bench::ParseList(batch_list, 1, 1024);
  if (levels.empty() || batches.empty()) {
    std::fprintf(stderr, "xai-bench: --concurrency and --batch-sizes take numbers in [1, 1024]\n");
    return 2;
  }
  if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);

  std::string image;
  if (image_path.empty()) {
    image = SyntheticJpeg(224, 224);
  } else {
    xai::core::StatusOr<std::string> read = xai::core::ReadFile(image_path);
    if (!read.ok()) {
      std::fprintf(stderr, "xai-bench: --image: %s\n", read.status().ToString().c_str());
      return 1;
    }
    image = std::move(*read);
  }
  std::unique_ptr<xai::server::Server> server;
  if (server_address.empty()) {
    xai::server::ServerOptions options;
    options.address = "127.0.0.1:0";
    // Counted as in production (metrics on, unless --no-metrics), without a log line per
    // call (the bench logs warnings only).
    options.metrics_address = metrics ? "127.0.0.1:0" : "";
    options.http_address = "";
    options.access_log = false;
    options.explainer.model_repository = repository;
    options.explainer.intra_op_threads = intra_op_threads;
    options.cache_bytes = cache_bytes;
    auto started = xai::server::Server::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "xai-bench: %s\n", started.status().ToString().c_str());
      return 1;
    }
    server = std::move(*started);
    server->explainer().WaitUntilLoaded();
    server_address = "127.0.0.1:" + std::to_string(server->port());
  }

  // The plain forward: the newest version's file, loaded as LibTorch users do, on the
  // input the server computes from the same bytes.
  auto config = xai::core::ReadModelConfig(repository + "/" + model + "/config.pbtxt");
  if (!config.ok()) {
    std::fprintf(stderr, "xai-bench: %s\n", config.status().ToString().c_str());
    return 1;
  }
  const xai::core::ImagePreprocessor preprocessor({});
  auto input = preprocessor.Preprocess(image, config->input());
  if (!input.ok()) {
    std::fprintf(stderr, "xai-bench: %s\n", input.status().ToString().c_str());
    return 1;
  }

  auto channel = grpc::CreateChannel(server_address, grpc::InsecureChannelCredentials());
  auto stub = xai::v1::Explainer::NewStub(channel);
  xai::v1::DescribeModelRequest describe;
  describe.mutable_model()->set_name(model);
  xai::v1::DescribeModelResponse description;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const grpc::Status status = stub->DescribeModel(&context, describe, &description);
    if (!status.ok()) {
      std::fprintf(stderr, "xai-bench: %s at %s: %s\n", model.c_str(), server_address.c_str(),
                   status.error_message().c_str());
      return 1;
    }
  }
  const std::string model_file =
      repository + "/" + model + "/" + std::to_string(description.model().version()) + "/model.pt";
  torch::jit::Module plain = torch::jit::load(model_file);
  plain.eval();

  std::string first_error;
  auto check = [&](const grpc::Status& status) {
    if (!status.ok() && first_error.empty()) first_error = status.error_message();
    return status.ok();
  };
  xai::v1::ClassifyRequest classify;
  classify.mutable_model()->set_name(model);
  classify.mutable_image()->set_encoded(image);
  xai::v1::GradCAMRequest gradcam;
  gradcam.mutable_model()->set_name(model);
  gradcam.mutable_image()->set_encoded(image);
  if (!layer.empty()) gradcam.add_layers(layer);
  xai::v1::GradCAMRequest overlay = gradcam;
  overlay.mutable_overlay()->set_enabled(true);
  // With the cache, the computing rows compute every time; the hit rows ask it.
  const xai::v1::ClassifyRequest classify_cached = classify;
  const xai::v1::GradCAMRequest overlay_cached = overlay;
  if (cache_bytes > 0) {
    classify.set_no_cache(true);
    gradcam.set_no_cache(true);
    overlay.set_no_cache(true);
  }
  xai::v1::DecisionPathRequest path;
  path.mutable_model()->set_name(model);
  path.mutable_image()->set_encoded(image);
  path.set_no_cache(cache_bytes > 0);
  path.set_target_class(-1);
  auto call_classify = [&] {
    grpc::ClientContext context;
    xai::v1::ClassifyResponse response;
    return check(stub->Classify(&context, classify, &response));
  };
  auto call_gradcam = [&] {
    grpc::ClientContext context;
    xai::v1::GradCAMResponse response;
    return check(stub->GradCAM(&context, gradcam, &response));
  };
  auto forward = [&](const at::Tensor& x) {
    c10::InferenceMode guard;
    plain.forward({x});
    return true;
  };

  const auto sizes = input->input.sizes();
  std::printf("xai-bench: model %s v%lld (%s), input [%lld, %lld, %lld] from a %zu-byte %s\n",
              model.c_str(), static_cast<long long>(description.model().version()),
              model_file.c_str(), static_cast<long long>(sizes[1]),
              static_cast<long long>(sizes[2]), static_cast<long long>(sizes[3]), image.size(),
              image_path.empty() ? "synthetic JPEG" : image_path.c_str());
  std::printf(
      "server %s (%s); CPU, %u hardware threads, %d LibTorch intra-op threads in this process; "
      "BLAS: %s\n",
      server_address.c_str(),
      !server ? "external"
              : (metrics ? "in this process, metrics on" : "in this process, metrics off"),
      std::thread::hardware_concurrency(), at::get_num_threads(),
      xai::core::Blas().description.c_str());

  // 1. Latency, one call at a time.
  double forward_one_ms = 0;
  if (!skip_latency) {
    std::vector<Case> cases;
    cases.push_back(
        {"plain LibTorch forward (no grad)", [&] { return forward(input->input); }, {}});
    cases.push_back({"Classify RPC (encoded image in)", call_classify, {}});
    cases.push_back({"GradCAM RPC, raw maps only", call_gradcam, {}});
    cases.push_back({"GradCAM RPC with overlay PNG",
                     [&] {
                       grpc::ClientContext context;
                       xai::v1::GradCAMResponse response;
                       return check(stub->GradCAM(&context, overlay, &response));
                     },
                     {}});
    if (cache_bytes > 0 && server) {
      cases.push_back({"Classify RPC, cache hit",
                       [&] {
                         grpc::ClientContext context;
                         xai::v1::ClassifyResponse response;
                         return check(stub->Classify(&context, classify_cached, &response));
                       },
                       {}});
      cases.push_back({"GradCAM RPC with overlay PNG, cache hit",
                       [&] {
                         grpc::ClientContext context;
                         xai::v1::GradCAMResponse response;
                         return check(stub->GradCAM(&context, overlay_cached, &response));
                       },
                       {}});
    }
    // A transformer has no default path layers (DecisionPath reads NCHW maps only).
    if (description.default_path_layers_size() > 0) {
      cases.push_back({"DecisionPath RPC, default layers",
                       [&] {
                         grpc::ClientContext context;
                         xai::v1::DecisionPathResponse response;
                         return check(stub->DecisionPath(&context, path, &response));
                       },
                       {}});
    } else {
      std::printf("DecisionPath not measured: %s\n",
                  description.default_path_layers_problem().c_str());
    }
    for (const xai::v1::CamMethod method : extra_methods) {
      xai::v1::GradCAMRequest request = gradcam;
      request.set_method(method);
      cases.push_back({"GradCAM RPC, " + xai::v1::CamMethod_Name(method),
                       [&check, &stub, request] {
                         grpc::ClientContext context;
                         xai::v1::GradCAMResponse response;
                         return check(stub->GradCAM(&context, request, &response));
                       },
                       {}});
    }
    if (faithfulness_steps > 0) {
      xai::v1::GradCAMRequest request = gradcam;
      request.mutable_metrics()->set_enabled(true);
      request.mutable_metrics()->set_steps(faithfulness_steps);
      cases.push_back({"GradCAM RPC + metrics, " + std::to_string(faithfulness_steps) + " steps",
                       [&check, &stub, request] {
                         grpc::ClientContext context;
                         xai::v1::GradCAMResponse response;
                         return check(stub->GradCAM(&context, request, &response));
                       },
                       {}});
    }
    if (!MeasureInterleaved(warmup, iterations, cases)) {
      std::fprintf(stderr, "xai-bench: a call failed: %s\n", first_error.c_str());
      return 1;
    }
    std::printf(
        "\n1. Latency, one call at a time: %d timed rounds after %d warm-up; a round runs each "
        "case once, in turn\n\n",
        iterations, warmup);
    std::printf("%-38s %9s %9s %9s %8s\n", "what", "p50 ms", "p90 ms", "p99 ms", "ratio");
    forward_one_ms = Summarise(cases[0].ms).p50_ms;
    for (const Case& c : cases) {
      const Stats s = Summarise(c.ms);
      std::printf("%-38s %9.2f %9.2f %9.2f %7.2fx\n", c.name.c_str(), s.p50_ms, s.p90_ms, s.p99_ms,
                  s.p50_ms / forward_one_ms);
    }
    std::printf("\nratio = p50 / p50 of the plain forward in the same rounds\n");
  }

  if (skip_throughput) {
    if (server) server->Shutdown(std::chrono::seconds(10));
    return 0;
  }

  // 2. The plain forward's throughput by batch size.
  std::printf("\n2. Plain LibTorch forward throughput by batch size (same image repeated)\n\n");
  std::printf("%8s %12s %12s\n", "batch", "p50 ms", "images/s");
  // p50 of the plain forward on `b` copies of the input, after one untimed call.
  auto forward_p50_ms = [&](int b) {
    const at::Tensor x = input->input.repeat({b, 1, 1, 1});
    return xai::bench::P50Ms(std::max(3, 24 / b), [&] { forward(x); });
  };
  double best = 0, one = 0;
  int best_batch = 1;
  for (int b : batches) {
    const double p50 = forward_p50_ms(b);
    const double per_second = b * 1000.0 / p50;
    if (b == 1) one = per_second;
    if (per_second > best) best = per_second, best_batch = b;
    std::printf("%8d %12.2f %12.2f\n", b, p50, per_second);
  }
  if (one == 0) one = best;
  std::printf("best: batch %d, %.2f images/s\n", best_batch, best);

  // 3. Throughput under concurrency.
  std::printf(
      "\n3. RPC throughput: %d calls per level, C callers each calling as soon as its last "
      "call returned\n\n",
      calls);
  std::printf("%-9s %5s %9s %9s %9s %10s %12s\n", "method", "C", "p50 ms", "p90 ms", "p99 ms",
              "calls/s", "vs best fwd");
  struct Sweep {
    const char* method;
    std::function<bool()> call;
    std::vector<Level> levels;
  };
  std::vector<Sweep> sweeps = {{"Classify", call_classify, {}}, {"GradCAM", call_gradcam, {}}};
  for (Sweep& sweep : sweeps) {
    sweep.call();  // warm
    for (int c : levels) {
      const Level level = RunConcurrent(calls, c, sweep.call);
      sweep.levels.push_back(level);
      const std::string failures =
          level.failed ? " (" + std::to_string(level.failed) + " failed)" : "";
      std::printf("%-9s %5d %9.2f %9.2f %9.2f %10.2f %11.2fx%s\n", sweep.method, c,
                  level.latency.p50_ms, level.latency.p90_ms, level.latency.p99_ms,
                  level.per_second, level.per_second / best, failures.c_str());
    }
  }
  // The forward again, to show how much the machine drifted meanwhile.
  std::printf("\nplain forward at batch %d after the sweep: %.2f images/s (before: %.2f)\n",
              best_batch, best_batch * 1000.0 / forward_p50_ms(best_batch), best);
  if (!first_error.empty()) std::printf("first failure: %s\n", first_error.c_str());
  if (!plot_path.empty()) {
    Plot(plot_path,
         model + ": throughput by concurrency (" + std::to_string(at::get_num_threads()) +
             " intra-op threads)",
         sweeps[0].levels, sweeps[1].levels, best, best_batch, one);
    std::printf("plot written to %s\n", plot_path.c_str());
  }
  if (server) server->Shutdown(std::chrono::seconds(10));
  return first_error.empty() ? 0 : 1;
}
