// xai-bench: latency of the Explainer RPCs against the plain LibTorch forward of the same
// TorchScript file on the same input, measured in the same run, so that every figure is
// also a ratio (absolute times are noisy on shared machines).
//
// The server runs in this process on an ephemeral port and is called through the gRPC
// stub, one call at a time, as a client would: the RPC figures include encoding, transport,
// decoding, preprocessing and the response.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <torch/script.h>

#include "core/image_preprocessor.h"
#include "core/model_config.h"
#include "server/server.h"
#include "xai/v1/explainer.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median_ms = 0, p90_ms = 0, p99_ms = 0;
};

struct Case {
  std::string name;
  std::function<void()> run;
  std::vector<double> ms;
};

// Interleaved rounds: each round runs every case once, in turn, so that a machine that
// slows down or speeds up during the run moves all figures alike and the ratios hold.
void MeasureInterleaved(int warmup, int iterations, std::vector<Case>& cases) {
  for (int i = 0; i < warmup; ++i) {
    for (Case& c : cases) c.run();
  }
  for (int i = 0; i < iterations; ++i) {
    for (Case& c : cases) {
      const auto start = Clock::now();
      c.run();
      c.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
}

Stats Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  return {ms[ms.size() / 2], at(0.9), at(0.99)};
}

// A 224x224-ish JPEG of smooth structure, when no image is given.
std::string SyntheticJpeg(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(255 * x / width),
                                            static_cast<uchar>(255 * y / height),
                                            static_cast<uchar>(128 + 127 * std::sin(0.05 * (x + y))));
    }
  }
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(jpeg.begin(), jpeg.end());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string repository;
  std::string model = "resnet18";
  std::string image_path;
  std::string layer;
  int iterations = 25;
  int warmup = 5;
  int intra_op_threads = 0;

  CLI::App app{
      "xai-bench: median, p90 and p99 latency of Classify and GradCAM calls on a model, and in\n"
      "the same run the plain no-grad LibTorch forward of the same file on the same input;\n"
      "every figure is also printed as a ratio to that forward. A fixture repository with a\n"
      "random-weight resnet18: /usr/bin/python3 tools/make_fixtures.py --out /tmp/xai-fixtures"};
  app.add_option("--model-repository", repository, "Model repository")->required();
  app.add_option("--model", model, "Model name")->capture_default_str();
  app.add_option("--image", image_path,
                 "Image file sent encoded (default: a synthetic 224x224 JPEG, quality 90)");
  app.add_option("--layer", layer, "GradCAM layer (default: the model's)");
  app.add_option("-n,--iterations", iterations, "Timed calls per figure")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "Untimed calls first")->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("--intra-op-threads", intra_op_threads,
                 "LibTorch intra-op threads (0: LibTorch's default)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const std::string image = image_path.empty() ? SyntheticJpeg(224, 224) : ReadFile(image_path);
  xai::server::ServerOptions options;
  options.address = "127.0.0.1:0";
  options.explainer.model_repository = repository;
  options.explainer.intra_op_threads = intra_op_threads;
  options.explainer.worker_threads = 1;
  auto server = xai::server::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "xai-bench: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->explainer().WaitUntilLoaded();

  // The plain forward: the same file, loaded as LibTorch users do, on the same input the
  // server computes from the same bytes.
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
  torch::jit::Module plain = torch::jit::load(repository + "/" + model + "/1/model.pt");
  plain.eval();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = xai::v1::Explainer::NewStub(channel);
  bool failed = false;
  auto check = [&](const grpc::Status& status, const std::string& what) {
    if (!status.ok() && !failed) {
      std::fprintf(stderr, "xai-bench: %s failed: %s\n", what.c_str(), status.error_message().c_str());
      failed = true;
    }
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

  std::vector<Case> cases;
  cases.push_back({"plain LibTorch forward (no grad)", [&] {
                     c10::InferenceMode guard;
                     plain.forward({input->input});
                   }});
  cases.push_back({"Classify RPC (encoded image in)", [&] {
                     grpc::ClientContext context;
                     xai::v1::ClassifyResponse response;
                     check(stub->Classify(&context, classify, &response), "Classify");
                   }});
  cases.push_back({"GradCAM RPC, raw maps only", [&] {
                     grpc::ClientContext context;
                     xai::v1::GradCAMResponse response;
                     check(stub->GradCAM(&context, gradcam, &response), "GradCAM");
                   }});
  cases.push_back({"GradCAM RPC with overlay PNG", [&] {
                     grpc::ClientContext context;
                     xai::v1::GradCAMResponse response;
                     check(stub->GradCAM(&context, overlay, &response), "GradCAM with overlay");
                   }});
  MeasureInterleaved(warmup, iterations, cases);
  (*server)->Shutdown(std::chrono::seconds(10));
  if (failed) return 1;

  const auto input_sizes = input->input.sizes();
  std::printf("xai-bench: model %s (%s/%s/1/model.pt), input [%lld, %lld, %lld] from a %zu-byte %s\n",
              model.c_str(), repository.c_str(), model.c_str(), static_cast<long long>(input_sizes[1]),
              static_cast<long long>(input_sizes[2]), static_cast<long long>(input_sizes[3]),
              image.size(), image_path.empty() ? "synthetic JPEG" : image_path.c_str());
  std::printf("CPU, %d intra-op threads, %d timed rounds after %d warm-up; a round runs each case "
              "once, in turn, one call at a time\n\n",
              at::get_num_threads(), iterations, warmup);
  std::printf("%-38s %10s %10s %10s %8s\n", "what", "median ms", "p90 ms", "p99 ms", "ratio");
  const double forward_median = Summarise(cases[0].ms).median_ms;
  for (const Case& c : cases) {
    const Stats s = Summarise(c.ms);
    std::printf("%-38s %10.2f %10.2f %10.2f %7.2fx\n", c.name.c_str(), s.median_ms, s.p90_ms,
                s.p99_ms, s.median_ms / forward_median);
  }
  std::printf("\nratio = median / median of the plain forward in the same rounds\n");
  return 0;
}
