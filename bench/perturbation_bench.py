#!/usr/bin/python3
"""SCORE_CAM and ABLATION_CAM through a real xai-server, side by side with an eager-PyTorch
implementation of the same procedure as pytorch-grad-cam runs it: full forwards of every
masked input or ablated layer output, in batches of 64, once per target. Both on the same
random-weight resnet18 at `layer4`, the same input, interleaved rounds; the maps are
compared too (the same maps, or the timing means nothing).

Usage: /usr/bin/python3 bench/perturbation_bench.py --server build/xai-server [-n 3]
Prints one table: p50 seconds of each call, its ratio to the eager reference with as many
targets, and to one plain eager forward measured in the same run.
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
# The reference's own procedures (batches of 64), run here once per target as
# pytorch-grad-cam runs them.
from cam_reference import ablation_scores, activations_of, score_cam_scores  # noqa: E402

SIZE = 224


def eager(model, x, layer, targets, scores_of, weights_of):
    """pytorch-grad-cam's get_cam_weights for each target, each time from a fresh capture
    forward and its own perturbed forwards, then the map."""
    maps = []
    for t in targets:
        with torch.no_grad():
            s = model(x)[0, t].item()
        a = activations_of(model, x, [layer])[layer]
        w = weights_of(scores_of(model, x, layer, a)[:, t], s)
        maps.append(np.maximum((w[:, None, None] * a).sum(0), 0))
    return np.stack(maps)


def eager_score_cam(model, x, layer, targets):
    """ScoreCAM: the softmax over channels of the target's logit on each masked input."""
    return eager(model, x, layer, targets, lambda m, x, layer, a: score_cam_scores(m, x, a),
                 lambda scores, s: torch.softmax(torch.from_numpy(scores), dim=0).numpy())


def eager_ablation_cam(model, x, layer, targets):
    """AblationCAM: full forwards with the layer's output ablated channel by channel;
    w = (s - s_k) / s."""
    return eager(model, x, layer, targets, ablation_scores, lambda scores, s: (s - scores) / s)


EAGER = {"SCORE_CAM": eager_score_cam, "ABLATION_CAM": eager_ablation_cam}


def p50(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path to xai-server")
    parser.add_argument("-n", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads, the same for both sides (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    model = torchvision.models.resnet18().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(8))
    with served_model(args.server, model, x, args.threads) as client:
        run(args, model, x, client)


def run(args, model, x, client):
    with torch.no_grad():
        order = torch.argsort(model(x)[0], descending=True).tolist()
    target_sets = {1: order[:1], 2: order[:2]}
    image = x.numpy()
    times = {}

    def timed(key, fn):
        start = time.perf_counter()
        out = fn()
        times.setdefault(key, []).append(time.perf_counter() - start)
        return out

    errors = {}
    for _ in range(args.n):
        for _ in range(5):
            with torch.no_grad():
                timed("forward", lambda: model(x))
        for method, eager in EAGER.items():
            for count, targets in target_sets.items():
                ref = timed(("eager", method, count), lambda: eager(model, x, "layer4", targets))
                got = timed(("xai", method, count), lambda: client.gradcam(
                    "resnet18", image, targets=targets, layers=["layer4"], method=method))
                raws = np.stack([e.raw for e in got.explanations])
                error = float(np.abs(raws - ref).max() / max(1e-12, np.abs(ref).max()))
                errors[method, count] = max(errors.get((method, count), 0.0), error)
    forward = p50(times["forward"])
    print("resnet18 at layer4, %d interleaved rounds, %d intra-op thread(s), torch %s, %s"
          % (args.n, args.threads, torch.__version__, os.uname().machine))
    print("plain eager forward (batch 1): %.2f ms" % (forward * 1e3))
    print("| call | targets | p50 s | / eager, same targets | / forward | max rel. raw error |")
    print("| --- | --- | --- | --- | --- | --- |")
    for method in EAGER:
        for count in target_sets:
            eager = p50(times[("eager", method, count)])
            ours = p50(times[("xai", method, count)])
            print("| eager %s (pytorch-grad-cam's procedure) | %d | %.2f | 1.00x | %.0fx | |"
                  % (method, count, eager, eager / forward))
            print("| xai-server %s | %d | %.2f | **%.3fx** | %.1fx | %.1e |"
                  % (method, count, ours, ours / eager, ours / forward, errors[method, count]))


if __name__ == "__main__":
    main()
