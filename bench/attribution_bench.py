#!/usr/bin/python3
"""Integrated Gradients through a real xai-server (the Python client: transport, decoding
and the numpy arrays included), side by side with an eager-PyTorch implementation of
Captum's procedure (tools/attribution_reference.py: all steps in one batch, Captum's
default internal_batch_size), on the same random-weight resnet18, the same input, in
interleaved rounds; the attributions are compared too.

Usage: /usr/bin/python3 bench/attribution_bench.py --server build/xai-server [-n 3]
Prints one table: p50 seconds of each call, its ratio to the eager reference, to one plain
eager forward, and the largest difference relative to the largest attribution; then XRAI
against its own Integrated Gradients (the same steps from BLACK and WHITE) through the server.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from server_process import served_model  # noqa: E402
from attribution_reference import attribute  # noqa: E402

SIZE = 224


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path to xai-server")
    parser.add_argument("-n", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--steps", type=int, default=50, help="Gauss-Legendre steps (default 50)")
    parser.add_argument("--no-xrai", dest="xrai", action="store_false",
                        help="leave out XRAI and its Integrated Gradients")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads, the same for both sides (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    model = torchvision.models.resnet18().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        target = int(model(x)[0].argmax())
    times, errors = {}, {}

    def timed(key, fn):
        start = time.perf_counter()
        out = fn()
        times.setdefault(key, []).append(time.perf_counter() - start)
        return out

    batches = (32, 64)  # the server's default, and all 50 steps + the ends in one batch
    with served_model(args.server, model, x, args.threads) as client:
        image = x.numpy()
        for _ in range(args.n):
            for _ in range(3):
                with torch.no_grad():
                    timed("forward", lambda: model(x))
            ref = timed("eager", lambda: attribute(model, x, target, "INTEGRATED_GRADIENTS",
                                                   "GAUSS_LEGENDRE", args.steps, ["ZERO"]))[0].numpy()
            for batch in batches:
                got = timed(("xai", batch), lambda: client.attribute(
                    "resnet18", image, targets=[target], steps=args.steps, batch_size=batch))
                a = got.attributions[0].attribution
                errors[batch] = max(errors.get(batch, 0.0),
                                    float(np.abs(a - ref).max() / np.abs(ref).max()))
            if args.xrai:
                timed("ig_bw", lambda: client.attribute(
                    "resnet18", image, targets=[target], steps=args.steps,
                    baselines=["black", "white"]))
                timed("xrai", lambda: client.attribute(
                    "resnet18", image, targets=[target], steps=args.steps, method="xrai"))
    forward = statistics.median(times["forward"])
    eager = statistics.median(times["eager"])
    print("resnet18, Integrated Gradients, %d Gauss-Legendre steps, zero baseline, one target; "
          "%d interleaved rounds, %d intra-op thread(s), torch %s"
          % (args.steps, args.n, args.threads, torch.__version__))
    print("plain eager forward (batch 1): %.2f ms" % (forward * 1e3))
    print("| call | p50 s | / eager | / forward | max rel. difference |")
    print("| --- | --- | --- | --- | --- |")
    print("| eager, Captum's procedure (one batch of %d) | %.3f | 1.00x | %.0fx | |"
          % (args.steps, eager, eager / forward))
    for batch in batches:
        ours = statistics.median(times[("xai", batch)])
        print("| xai-server Attribute, batch_size %d | %.3f | **%.2fx** | %.0fx | %.1e |"
              % (batch, ours, ours / eager, ours / forward, errors[batch]))
    if args.xrai:
        ig_bw, xrai = statistics.median(times["ig_bw"]), statistics.median(times["xrai"])
        print("\nXRAI (%d steps from BLACK and WHITE, six segmentations, the ranking) through "
              "xai-server: %.3f s; its Integrated Gradients alone: %.3f s; **%.2fx**"
              % (args.steps, xrai, ig_bw, xrai / ig_bw))


if __name__ == "__main__":
    main()
