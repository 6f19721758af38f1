#!/usr/bin/python3
"""The REST port as browsers and busy backends meet it, on one xai-server serving the demo
repository (models/: shapes, 64x64):

1. Compression: GradCAM with its overlay and DecisionPath with its diagram over REST, each
   with no Accept-Encoding and with what browsers send ("gzip, deflate, br"), interleaved
   rounds in ABBA order; the client inflates what comes gzipped, as a browser does. Goal: at
   most 1.1x.
2. Throughput at a concurrency: GradCAM calls from K threads for a few seconds over gRPC
   (the Python client, one channel) and over REST (one kept-alive connection per thread).

Usage: /usr/bin/python3 bench/http_bench.py --server build/xai-server [-n 20] [-k 32]
Prints p50 milliseconds, bytes and ratios, calls per second, and a plain forward of the
demo model in this process for scale.
"""
import argparse
import base64
import gzip
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
from server_process import served_repository  # noqa: E402

BROWSER = "gzip, deflate, br"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(connection, path, body, encoding):
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Accept-Encoding"] = encoding
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    raw = response.read()
    sent = len(raw)
    if response.getheader("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    if response.status != 200:
        sys.exit("REST call failed: %d %s" % (response.status, raw[:300]))
    return json.loads(raw), sent, response.getheader("Content-Encoding") or "identity"


def compression(port, image, rounds):
    calls = {
        "GradCAM with its overlay": (
            "/v1/models/shapes:gradcam",
            json.dumps({"image": {"encoded": image}, "overlay": {"enabled": True}})),
        "DecisionPath with its diagram": (
            "/v1/models/shapes:decisionPath",
            json.dumps({"image": {"encoded": image}, "render": True})),
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    print("| REST call | p50 ms, no Accept-Encoding | p50 ms, `%s` | ratio | bytes sent "
          "(none / browser's) |" % BROWSER)
    print("| --- | --- | --- | --- | --- |")
    worst = 0.0
    for name, (path, body) in calls.items():
        for _ in range(3):
            post(connection, path, body, "")
            post(connection, path, body, BROWSER)
        times = {"": [], BROWSER: []}
        sizes = {}
        for r in range(rounds):
            # ABBA: neither is always second.
            for encoding in (("", BROWSER) if r % 2 == 0 else (BROWSER, "")):
                start = time.perf_counter()
                _, sent, used = post(connection, path, body, encoding)
                times[encoding].append(time.perf_counter() - start)
                sizes[encoding] = (sent, used)
        plain, browser = statistics.median(times[""]), statistics.median(times[BROWSER])
        worst = max(worst, browser / plain)
        print("| %s | %.2f | %.2f | **%.3fx** | %d / %d (%s) |" % (
            name, plain * 1e3, browser * 1e3, browser / plain, sizes[""][0],
            sizes[BROWSER][0], sizes[BROWSER][1]))
    return worst


def throughput(client, port, image_bytes, image, concurrency, seconds):
    body = json.dumps({"image": {"encoded": image}})

    def run(call):
        stop = time.perf_counter() + seconds
        counts = [0] * concurrency
        errors = []

        def worker(i):
            state = {}
            try:
                while time.perf_counter() < stop:
                    call(state)
                    counts[i] += 1
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            sys.exit("a call failed: %s" % errors[0])
        return sum(counts) / (time.perf_counter() - start)

    def grpc_call(state):
        client.gradcam("shapes", image_bytes)

    def rest_call(state):
        if "connection" not in state:
            state["connection"] = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        post(state["connection"], "/v1/models/shapes:gradcam", body, "")

    run(grpc_call)  # warm-up
    grpc_rate = run(grpc_call)
    rest_rate = run(rest_call)
    print("| GradCAM, %d callers for %g s | calls/s | / gRPC |" % (concurrency, seconds))
    print("| --- | --- | --- |")
    print("| gRPC (Python client, one channel) | %.1f | 1.00x |" % grpc_rate)
    print("| REST (http.client, a kept-alive connection per caller) | %.1f | **%.3fx** |"
          % (rest_rate, rest_rate / grpc_rate))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path to xai-server")
    parser.add_argument("-n", type=int, default=20, help="interleaved rounds (default 20)")
    parser.add_argument("-k", type=int, default=32, help="concurrency (default 32)")
    parser.add_argument("--seconds", type=float, default=5, help="per throughput run")
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's intra-op threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(ROOT, "samples", "star_3.png"), "rb") as f:
        image_bytes = f.read()
    image = base64.b64encode(image_bytes).decode()
    port = free_port()
    print("xai-server on the demo repository (shapes), %d intra-op thread(s), %d cores" % (
        args.threads, os.cpu_count()))
    with served_repository(args.server, os.path.join(ROOT, "models"), args.threads,
                           extra_args=("--http-address", "127.0.0.1:%d" % port)) as client:
        worst = compression(port, image, args.n)
        print()
        throughput(client, port, image_bytes, image, args.k, args.seconds)
    model = torch.jit.load(os.path.join(ROOT, "models", "shapes", "1", "model.pt")).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for _ in range(5):
            model(x)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    print("\nplain TorchScript forward of shapes in this process, for scale: %.2f ms"
          % (statistics.median(times) * 1e3))
    print("worst compression ratio: %.3fx (goal: at most 1.1x)" % worst)


if __name__ == "__main__":
    main()
