// xai-server: serves explanations of the TorchScript models in a model repository.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/base/command_line.h"
#include "core/runtime/runtime_info.h"
#include "server/logging.h"
#include "server/server.h"

namespace {

// Blocks SIGINT, SIGTERM and SIGHUP in every thread (call before any thread starts) and
// returns the set, for sigwait on the main thread.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Raises the soft limit on open files to the hard one (as Go's runtime and nginx's
// worker_rlimit_nofile do): each HTTP connection is a descriptor, and 1024, a common soft
// default, is below --http-max-connections. Warns when even the hard limit is below it.
void RaiseOpenFileLimit(int http_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t wanted = static_cast<rlim_t>(http_connections) + 1024;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    spdlog::warn(
        "the open-file limit is {} (ulimit -n), below --http-max-connections + 1024 = {}: "
        "connections beyond it wait in the listen queue; raise the limit or lower the flag",
        static_cast<uint64_t>(limit.rlim_cur), static_cast<uint64_t>(wanted));
  }
}

// Which BLAS LibTorch's matrix products run on: with Debian's netlib libblas3 (what apt
// picks for libtorch when nothing better is installed) a transformer's forward is 10 to 25
// times slower than with OpenBLAS, and nothing else says so.
void LogBlas() {
  const xai::core::BlasInfo blas = xai::core::Blas();
  spdlog::info("LibTorch {}; BLAS: {}", xai::core::LibTorchVersion(), blas.description);
  if (blas.reference) {
    spdlog::warn(
        "LibTorch's matrix products run on the reference BLAS ({}): linear layers and "
        "transformers run 10 to 25 times slower than on OpenBLAS; install libopenblas0-openmp "
        "(Debian, Ubuntu), which becomes the libblas.so.3 alternative",
        blas.library);
  }
}

}  // namespace

// --model-repository's default: XAI_DEFAULT_MODEL_REPOSITORY of the build (its own generated
// unit, default_repository.cc).
extern const char* const kXaiDefaultModelRepository;

int main(int argc, char** argv) {
  xai::server::ServerOptions options;
  options.explainer.model_repository = kXaiDefaultModelRepository;
  std::string log_level = "info";
  std::string log_format = "text";
  int grace_seconds = 30;
  int drain_seconds = 0;

  CLI::App app{
      "xai-server: explains image classifiers over gRPC (xai.v1.Explainer).\n"
      "Loads every TorchScript model in a model repository laid out as\n"
      "  DIR/<model>/config.pbtxt, DIR/<model>/labels.txt, DIR/<model>/<version>/model.pt\n"
      "and answers Classify, GradCAM, DecisionPath, ListModels, DescribeModel and ModelStatistics, "
      "with\n"
      "grpc.health.v1.Health and server reflection. Each model version queues its requests for "
      "its\n"
      "instances and batches them as its config.pbtxt says (dynamic_batching, instance_group).\n"
      "SIGINT/SIGTERM stop accepting calls, finish those in flight and queued, exit 0.\n"
      "SIGHUP re-reads the TLS files and the token file (a bad file is logged, the old stays).\n"
      "Security: docs/SECURITY.md (TLS, tokens, limits)."};
  app.add_option("--model-repository", options.explainer.model_repository,
                 "Model repository directory")
      ->capture_default_str();
  app.add_option("--address", options.address, "host:port to listen on (port 0: pick one)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-format", log_format,
                 "text: spdlog's lines; json: every log line one JSON object (time, level, "
                 "logger, msg; access lines their fields), for log shippers")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option(
         "--access-log", options.access_log,
         "One INFO line per answered call (request id, peer, caller (the token's name), RPC, "
         "model, version, "
         "method, status, queue/compute/total ms, batch, request/response bytes); "
         "--access-log=false: none")
      ->capture_default_str();
  app.add_option("--metrics-address", options.metrics_address,
                 "host:port serving Prometheus metrics at /metrics over HTTP (port 0: pick "
                 "one); off or empty (--metrics-address= or --metrics-address \"\"): no metrics. "
                 "Unbindable: "
                 "exit at start")
      ->capture_default_str();
  app.add_option("--http-address", options.http_address,
                 "host:port serving the REST/JSON API (POST /v1/models/NAME:classify, :gradcam, "
                 ":attribute, :decisionPath; GET /v1/models, /v1/models/NAME[/stats], "
                 "/v2/health/live, /v2/health/ready; docs/REST.md) and the web page at / "
                 "over HTTP, or HTTPS with the gRPC port's --tls-cert, key and client CA, and "
                 "its tokens (port 0: pick one); off or empty (--http-address=): none")
      ->capture_default_str();
  app.add_option("--http-threads", options.http.threads,
                 "I/O threads of the REST port. Event-driven: each serves any number of "
                 "connections, idle ones cost no thread, and a call waiting for a model holds "
                 "none (its answer is written when it completes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--http-max-connections", options.http.max_connections,
                 "Open connections the REST port keeps, all clients together; more are answered "
                 "503 (Retry-After: 1) and closed at once. Raise the process' open-file limit "
                 "to match (xai-server raises its soft limit to the hard one)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--http-max-connections-per-peer", options.http.max_connections_per_peer,
                 "Open REST connections from one client address; more: 503 at once. Behind a "
                 "proxy every connection has the proxy's address: raise it or 0 (no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  double header_timeout = 10;
  double idle_timeout = 60;
  app.add_option("--http-header-timeout", header_timeout,
                 "Seconds within which a request's line and headers must arrive once its first "
                 "byte has (and a TLS handshake once connected); later: the connection is "
                 "closed. Also the fixed part of the body and answer deadlines. Applies to the "
                 "metrics port too")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--http-idle-timeout", idle_timeout,
                 "Seconds a connection may wait for its next request (keep-alive) before it is "
                 "closed. Applies to the metrics port too")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--http-min-bytes-per-second", options.http.min_bytes_per_second,
                 "The slowest transfer a client may make: a body must arrive, and an answer be "
                 "read, within --http-header-timeout plus its size at this rate (a chunked body: "
                 "the largest allowed, --max-request-bytes)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e12));
  std::string compression = "gzip";
  app.add_option("--http-compression", compression,
                 "gzip: answers of a text type (JSON, the page's files, /metrics) of at least "
                 "--http-compression-min-bytes are gzipped at level 1 for clients that accept "
                 "it, and sent plain when that saves under 30% (JSON carrying base64 images or "
                 "tensors, judged by a scan); never images. off: never")
      ->capture_default_str()
      ->check(CLI::IsMember({"gzip", "off"}));
  app.add_option("--http-compression-min-bytes", options.http.compression_min_bytes,
                 "Smaller answers are sent uncompressed")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1} << 30));
  app.add_option("--web-page", options.web_page,
                 "Serve the web page for ad-hoc explanations at / on --http-address (and the "
                 "bundled sample images at /samples/); --web-page=false: the REST API only")
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls.cert_file,
                 "PEM certificate (and chain) of the server: the gRPC port speaks TLS only, "
                 "and the REST port HTTPS only; needs --tls-key. Re-read on SIGHUP")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", options.tls.key_file,
                 "PEM private key (unencrypted) matching --tls-cert. Re-read on SIGHUP")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-client-ca", options.tls.client_ca_file,
                 "PEM CA certificates: mutual TLS, every client must present a certificate "
                 "that chains to one of them. Re-read on SIGHUP")
      ->check(CLI::ExistingFile);
  app.add_option("--health-address", options.health_address,
                 "With TLS: host:port of a plaintext port answering grpc.health.v1 only (every "
                 "other call there: PERMISSION_DENIED), for Kubernetes' gRPC probes, which "
                 "cannot speak TLS; e.g. 0.0.0.0:8003")
      ->capture_default_str();
  app.add_option("--auth-tokens", options.auth_tokens_file,
                 "Token file, one 'TOKEN ROLE [NAME]' per line (ROLE: explain, or admin which "
                 "may also administer; tokens of 16+ printable characters, e.g. openssl rand -hex "
                 "32): every call but grpc.health.v1 then needs 'authorization: Bearer TOKEN' "
                 "(else UNAUTHENTICATED; a role too low: PERMISSION_DENIED). Re-read on SIGHUP")
      ->check(CLI::ExistingFile);
  app.add_option("--metrics-auth", options.metrics_auth,
                 "/metrics needs 'Authorization: Bearer TOKEN' with a token of --auth-tokens "
                 "(else 401)")
      ->capture_default_str();
  int reload_seconds = 0;
  app.add_option("--reload-seconds", reload_seconds,
                 "Also re-read the TLS and token files this often when they changed (e.g. "
                 "Kubernetes Secrets updated in place); 0: on SIGHUP only")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  app.add_option("--reflection", options.reflection,
                 "gRPC server reflection (lists the services and their schema, never data; not "
                 "behind tokens): --reflection=false turns it off")
      ->capture_default_str();
  app.add_flag("--enable-admin", options.enable_admin,
               "Serve xai.v1.ModelAdmin (LoadModel, UnloadModel, ReloadModel, ListModels; "
               "`xai admin`): with --auth-tokens, admin tokens only; without, any caller");
  app.add_option("--poll-repository", options.poll_repository_seconds,
                 "Every N seconds, apply the model repository's changes on disk: new model "
                 "directories loaded, removed ones unloaded, changed ones reloaded without "
                 "failing a call (as ReloadModel); 0: never")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  app.add_option("--intra-op-threads", options.explainer.intra_op_threads,
                 "LibTorch intra-op threads per forward, process-wide (0: LibTorch's default)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_option("--queue-capacity", options.explainer.queue_capacity,
                 "Requests that may wait for an instance, per model version, unless its config "
                 "sets max_queue_size; beyond: RESOURCE_EXHAUSTED at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-request-bytes", options.max_request_bytes,
                 "Largest request message; beyond: RESOURCE_EXHAUSTED over gRPC (gRPC's own "
                 "answer, 'Received message larger than max'), 413 over REST")
      ->capture_default_str()
      ->check(CLI::Range(1024, 1 << 30));
  app.add_option("--cache-bytes", options.cache_bytes,
                 "Memory for the explanation cache: answers of Classify, GradCAM, Attribute and "
                 "DecisionPath kept per serving load and request, least recently used dropped "
                 "first; identical requests at once compute once. 0: no cache "
                 "(docs/OPERATIONS.md#the-explanation-cache---cache-bytes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--max-image-pixels", options.explainer.max_image_pixels,
                 "Largest width*height of an encoded image, checked before decoding; beyond: "
                 "INVALID_ARGUMENT (REST 400)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--max-image-side", options.explainer.max_image_side,
                 "Longest width or height of an encoded image, checked from its header before "
                 "decoding; beyond: INVALID_ARGUMENT (REST 400)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--max-calls-per-peer", options.max_calls_per_peer,
                 "Calls in flight at a time from one client host (all its connections); more: "
                 "RESOURCE_EXHAUSTED at once. 0: no limit")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--max-targets", options.explainer.max_targets,
                 "Most target classes one GradCAM or Attribute request may ask for; beyond: "
                 "INVALID_ARGUMENT")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option(
         "--max-perturbation-batch", options.explainer.max_perturbation_batch,
         "Most perturbed inputs one forward of a SCORE_CAM or ABLATION_CAM request may "
         "batch, and the faithfulness metrics' batch (the request's batch_size; unset: 64, or "
         "this when smaller); beyond: "
         "INVALID_ARGUMENT. Bounds the memory of one request's forward")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-attribution-batch", options.explainer.max_attribution_batch,
                 "Most points (integration steps x baselines) one forward and backward of an "
                 "Attribute request may batch (the request's batch_size; unset: 32, or this when "
                 "smaller); beyond: INVALID_ARGUMENT. Bounds the memory of one request's backward")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-attribution-steps", options.explainer.max_attribution_steps,
                 "Most integration steps one Attribute request may ask for; beyond: "
                 "INVALID_ARGUMENT")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-cam-layers", options.explainer.max_cam_layers,
                 "Most layers one GradCAM request may name; beyond: INVALID_ARGUMENT")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  int64_t max_queue_ms = options.explainer.max_queue_time.count();
  app.add_option("--max-queue-ms", max_queue_ms,
                 "Longest a request may wait in a model's queue, whatever its deadline; beyond: "
                 "RESOURCE_EXHAUSTED, without running")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  app.add_option("--drain-seconds", drain_seconds,
                 "On SIGINT/SIGTERM, first report NOT_SERVING on the health service (all but "
                 "\"liveness\") and keep answering calls this long, so that load balancers and "
                 "Kubernetes endpoints stop sending before new calls are refused; a second "
                 "signal ends it early")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--shutdown-grace-seconds", grace_seconds,
                 "On SIGINT/SIGTERM, how long calls in flight may take before they are cancelled")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  // `--flag=` is the empty value, not `--flag` and the next argument (CommandLine).
  xai::CommandLine command_line(argc, argv);
  CLI11_PARSE(app, command_line.argc(), command_line.argv());
  if (options.metrics_address == "off") options.metrics_address.clear();
  if (options.http_address == "off") options.http_address.clear();
  options.http.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(header_timeout * 1000));
  options.http.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(idle_timeout * 1000));
  options.http.compression = compression == "gzip";
  options.explainer.max_queue_time = std::chrono::milliseconds(max_queue_ms);
  spdlog::set_level(spdlog::level::from_str(log_level));
  xai::server::SetLogFormat(log_format == "json" ? xai::server::LogFormat::kJson
                                                 : xai::server::LogFormat::kText);

  // OpenCV's own limit backs up the header check for formats whose header core does not
  // read; it is read once, at OpenCV's first decode.
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(options.explainer.max_image_pixels).c_str(),
         /*overwrite=*/1);

  RaiseOpenFileLimit(options.http.max_connections);

  sigset_t signals = BlockSignals();
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  auto server = xai::server::Server::Start(options);
  if (!server.ok()) {
    spdlog::critical("cannot start: {}", server.status().message());
    return 1;
  }
  spdlog::info("listening on {} (port {}), {}, model repository {}", options.address,
               (*server)->port(), (*server)->tls() ? "TLS" : "plaintext",
               options.explainer.model_repository);
  LogBlas();
  if ((*server)->health_port() != 0) {
    spdlog::info("plaintext health checks on {} (port {})", options.health_address,
                 (*server)->health_port());
  }
  if ((*server)->http_port() != 0) {
    spdlog::info("REST{} at {}://{}/ (port {})", options.web_page ? " and the web page" : "",
                 (*server)->tls() ? "https" : "http", options.http_address, (*server)->http_port());
  }
  if ((*server)->metrics_port() != 0) {
    spdlog::info("metrics at http://{}/metrics (port {})", options.metrics_address,
                 (*server)->metrics_port());
  }

  // SIGHUP (and every --reload-seconds) re-reads the TLS and token files; SIGINT or
  // SIGTERM ends the loop.
  int signal = 0;
  for (;;) {
    if (reload_seconds > 0) {
      const timespec period{reload_seconds, 0};
      signal = sigtimedwait(&signals, nullptr, &period);
      if (signal < 0) {
        (void)(*server)->Reload(/*log_unchanged=*/false);
        continue;
      }
    } else if (sigwait(&signals, &signal) != 0) {
      continue;
    }
    if (signal != SIGHUP) break;
    spdlog::info("received SIGHUP: re-reading the TLS and token files");
    (void)(*server)->Reload();
  }
  if (drain_seconds > 0) {
    spdlog::info("received {}: NOT_SERVING, still answering calls for {} s", strsignal(signal),
                 drain_seconds);
    (*server)->Drain();
    const timespec drain{drain_seconds, 0};
    if (sigtimedwait(&stop_signals, nullptr, &drain) > 0) {
      spdlog::info("a second signal: draining ends early");
    }
  }
  spdlog::info("received {}: finishing calls in flight (up to {} s)", strsignal(signal),
               grace_seconds);
  (*server)->Shutdown(std::chrono::seconds(grace_seconds));
  spdlog::info("stopped");
  return 0;
}
