#!/usr/bin/python3
"""Adaptive Integrated Gradients (max_approximation_error 0.05) against 50 fixed
Gauss-Legendre steps, through a real xai-server (the Python client: transport and decoding
included), on 20 fresh images of the bundled demo model and 20 random inputs of a
random-weight resnet18 (the issue's measure: the median time ratio, and the error met on
every image where |f(x) - f(baseline)| >= 0.05).

Usage: /usr/bin/python3 bench/adaptive_ig_bench.py --server build/xai-server [-n 1]
Prints a line per image (steps used, error, time ratio) and a summary per model.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
from server_process import served_model, served_repository  # noqa: E402


def measure(client, model, images, rounds, max_error):
    """Per image: (fixed seconds, adaptive seconds, adaptive steps, error, met, gap)."""
    rows = []
    for image in images:
        fixed_times, adaptive_times = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            fixed = client.attribute(model, image, steps=50).attributions[0]
            fixed_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            adaptive = client.attribute(model, image, max_approximation_error=max_error)
            adaptive_times.append(time.perf_counter() - start)
        a = adaptive.attributions[0]
        rows.append((statistics.median(fixed_times), statistics.median(adaptive_times), a.steps,
                     a.approximation_error, a.approximation_error_met,
                     abs(a.logit - a.baseline_logit), fixed.approximation_error))
    return rows


def report(name, rows, max_error):
    print("\n%s: %d images" % (name, len(rows)))
    print("| image | 50 steps s (error) | adaptive s | steps | error | met | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, (fixed, adaptive, steps, error, met, gap, fixed_error) in enumerate(rows):
        print("| %d | %.3f (%.4f) | %.3f | %d | %.4f | %s | %.2fx |"
              % (i, fixed, fixed_error, adaptive, steps, error, "yes" if met else
                 ("gap %.3f < 0.05" % gap if gap < 0.05 else "NO"), adaptive / fixed))
    ratios = [adaptive / fixed for fixed, adaptive, *_ in rows]
    meaningful = [r for r in rows if r[5] >= 0.05]
    unmet = [r for r in meaningful if not r[4] or r[3] > max_error]
    print("median ratio %.3fx (min %.3fx, max %.3fx); error met on %d of %d images with a "
          "meaningful gap; steps used: %s"
          % (statistics.median(ratios), min(ratios), max(ratios),
             len(meaningful) - len(unmet), len(meaningful),
             sorted({r[2] for r in rows})))
    return ratios, len(unmet)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path to xai-server")
    parser.add_argument("-n", type=int, default=1, help="rounds per image (default 1)")
    parser.add_argument("--images", type=int, default=20, help="images per model (default 20)")
    parser.add_argument("--max-error", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's intra-op threads (default 1)")
    args = parser.parse_args()
    print("adaptive Integrated Gradients, max_approximation_error %.3f, vs 50 fixed "
          "Gauss-Legendre steps; zero baseline, top-1 target, batch_size 32; %d intra-op "
          "thread(s), %d round(s) per image, torch %s"
          % (args.max_error, args.threads, args.n, torch.__version__))
    all_ratios, all_unmet = [], 0
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_shapes.py"), "--out",
                        scratch, "--count", str(args.images), "--seed", "90210",
                        "--width", "64", "--height", "64"], check=True, stdout=subprocess.DEVNULL)
        demo = sorted(os.path.join(scratch, f) for f in os.listdir(scratch) if f.endswith(".png"))
        with served_repository(args.server, os.path.join(ROOT, "models"), args.threads) as client:
            client.attribute("shapes", demo[0], steps=8)  # warm-up
            ratios, unmet = report("demo model (shapes, 64x64)",
                                   measure(client, "shapes", demo, args.n, args.max_error),
                                   args.max_error)
            all_ratios += ratios
            all_unmet += unmet
    torch.manual_seed(7)
    model = torchvision.models.resnet18().eval()
    generator = torch.Generator().manual_seed(11)
    inputs = [torch.randn(1, 3, 224, 224, generator=generator) for _ in range(args.images)]
    with served_model(args.server, model, inputs[0], args.threads) as client:
        client.attribute("resnet18", inputs[0].numpy(), steps=8)  # warm-up
        ratios, unmet = report("random-weight resnet18 (224x224, random inputs)",
                               measure(client, "resnet18", [x.numpy() for x in inputs], args.n,
                                       args.max_error), args.max_error)
        all_ratios += ratios
        all_unmet += unmet
    print("\nall %d images: median ratio %.3fx; error unmet on %d image(s) with a meaningful gap"
          % (len(all_ratios), statistics.median(all_ratios), all_unmet))


if __name__ == "__main__":
    main()
