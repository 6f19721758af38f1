#!/usr/bin/python3
"""GradCAM over REST against the same call over gRPC, on one xai-server serving a
random-weight resnet18, with a JPEG: the Python client's gRPC call (numpy arrays decoded)
and a REST call with Python's http.client (JSON encoded and parsed, base64 decoded to numpy
arrays), interleaved rounds, the same answer checked.

Usage: /usr/bin/python3 bench/rest_bench.py --server build/xai-server [-n 20]
Prints p50 milliseconds of each, their ratio (goal: REST at most 1.05x gRPC), and one
plain eager forward for scale.
"""
import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import sys
import time

import cv2
import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_process import served_model  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path to xai-server")
    parser.add_argument("-n", type=int, default=20, help="interleaved rounds (default 20)")
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's intra-op threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224)
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8), (9, 9), 3)
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    port = free_port()
    body = json.dumps({"image": {"encoded": base64.b64encode(jpeg).decode()},
                       "layers": ["layer4"]})
    times = {"grpc": [], "rest": [], "forward": []}
    with served_model(args.server, model, x, args.threads,
                      extra_args=("--http-address", "127.0.0.1:%d" % port)) as client:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def rest():
            connection.request("POST", "/v1/models/resnet18:gradcam", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                sys.exit("REST call failed: %s" % answer)
            cam = answer["explanations"][0]["cam"]
            return np.frombuffer(base64.b64decode(cam["data"]), dtype="<f4").reshape(
                [int(d) for d in cam["shape"]])

        for _ in range(3):  # warm-up
            client.gradcam("resnet18", jpeg, layers=["layer4"])
            rest()
        difference = 0.0
        for _ in range(args.n):
            start = time.perf_counter()
            grpc_cam = client.gradcam("resnet18", jpeg, layers=["layer4"]).explanations[0].cam
            times["grpc"].append(time.perf_counter() - start)
            start = time.perf_counter()
            rest_cam = rest()
            times["rest"].append(time.perf_counter() - start)
            difference = max(difference, float(np.abs(grpc_cam - rest_cam).max()))
            with torch.no_grad():
                start = time.perf_counter()
                model(x)
                times["forward"].append(time.perf_counter() - start)
    g, r = statistics.median(times["grpc"]), statistics.median(times["rest"])
    print("resnet18 GradCAM at layer4, a %d-byte JPEG, %d interleaved rounds, %d intra-op "
          "thread(s), torch %s" % (len(jpeg), args.n, args.threads, torch.__version__))
    print("| call | p50 ms | / gRPC |")
    print("| --- | --- | --- |")
    print("| gRPC (Python client, numpy arrays) | %.2f | 1.00x |" % (g * 1e3))
    print("| REST (http.client, JSON, base64 to numpy) | %.2f | **%.3fx** |" % (r * 1e3, r / g))
    print("| plain eager forward in this process, for scale | %.2f | |"
          % (statistics.median(times["forward"]) * 1e3))
    print("largest difference between the two answers' maps: %.1e" % difference)


if __name__ == "__main__":
    main()
