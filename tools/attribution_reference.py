#!/usr/bin/python3
"""Reference pixel attributions for the C++ tests, computed with eager PyTorch.

Written here from Captum's definitions (see ../shared/METHODS.md): Saliency = |df/dx|
(abs=True), InputXGradient = x * df/dx, Integrated Gradients = (x - x0) * sum_i w_i *
df/dx(x0 + alpha_i (x - x0)) with Captum's quadrature (`gausslegendre` from numpy's
leggauss, `riemann_left/right/middle/trapezoid`), averaged over baselines; f the target's
logit. It shares no code with the C++ engine.

The sampled methods cannot match draw for draw (the engine has its own random streams), so
for them it writes one estimate and the distance between two estimates of different seeds:
SmoothGrad (NoiseTunnel's smoothgrad of Saliency: the mean of |df/dx| at x + N(0, sigma),
sigma = fraction * (max(x) - min(x))) and GradientShap (per sample a baseline drawn from the
given ones, alpha ~ U[0,1], (x - b) * df/dx at b + alpha (x - b), averaged).

Usage: /usr/bin/python3 tools/attribution_reference.py --out DIR

Writes DIR/<model>/1/model.pt (+ config.pbtxt with mean and std, so that BLACK and WHITE
baselines differ from ZERO), DIR/<case>_input.bin (float32 [1,3,S,S]) and
DIR/<case>_<n>.bin (float32 [T,3,S,S], the attributions per target), and DIR/cases.json:
    [{"name", "model", "size", "input", "targets", "method", "rule", "steps", "baselines",
      "attribution": file, "logits": [per target f(x)], "baseline_logits", "deltas"}]
and for the sampled methods {"sampled": true, "samples", "noise_fraction",
"reference_distance": ||A - B|| / ||A|| of two estimates A (written) and B}.
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision

# 128 x 128: every method and rule compared at a third of 224 x 224's cost (the networks
# pool adaptively); the side is in each case of the manifest.
SIZE = 128
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CONFIG = ('input { height: %d width: %d mean: [%s] std: [%s] }\n'
          'instance_group { count: 1 devices: ["cpu"] }\n') % (
    SIZE, SIZE, ", ".join(map(str, MEAN)), ", ".join(map(str, STD)))


def quadrature(rule, n):
    """Captum's approximation_parameters: (alphas, step sizes)."""
    if rule == "GAUSS_LEGENDRE":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return list(0.5 * (1 + nodes)), list(0.5 * weights)
    if rule == "RIEMANN_TRAPEZOID":
        return list(np.linspace(0, 1, n)), [1 / (2 * (n - 1))] + [1 / (n - 1)] * (n - 2) + [1 / (2 * (n - 1))]
    sizes = [1 / n] * n
    if rule == "RIEMANN_LEFT":
        return list(np.linspace(0, 1 - 1 / n, n)), sizes
    if rule == "RIEMANN_RIGHT":
        return list(np.linspace(1 / n, 1, n)), sizes
    return list(np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)), sizes  # RIEMANN_MIDDLE


def gradients(model, points, target):
    points = points.detach().requires_grad_(True)
    out = model(points)[:, target]
    grad, = torch.autograd.grad(out.sum(), points)
    return out.detach(), grad


def baseline(kind, x):
    if kind == "ZERO":
        return torch.zeros_like(x)
    # A black or white pixel normalised as the model's input is: in float32, with the
    # config's float32 mean and std (a different rounding would move maxpool ties).
    value = 0.0 if kind == "BLACK" else 1.0
    mean, std = torch.tensor(MEAN, dtype=torch.float32), torch.tensor(STD, dtype=torch.float32)
    return ((value - mean) / std).view(1, 3, 1, 1).expand_as(x).clone()


def attribute(model, x, target, method, rule, steps, baselines):
    if method in ("SALIENCY", "INPUT_X_GRADIENT"):
        logit, grad = gradients(model, x, target)
        attr = grad.abs() if method == "SALIENCY" else x * grad
        return attr[0], float(logit[0]), 0.0, 0.0
    alphas, sizes = quadrature(rule, steps)
    total, base_logits = 0, []
    for kind in baselines:
        x0 = baseline(kind, x)
        scaled = torch.cat([x0 + a * (x - x0) for a in alphas])
        _, grad = gradients(model, scaled, target)
        scaled_grads = grad * torch.tensor(sizes).float().view(-1, 1, 1, 1)
        total = total + scaled_grads.sum(0) * (x - x0)[0]
        with torch.no_grad():
            base_logits.append(float(model(x0)[0, target]))
    attr = total / len(baselines)
    with torch.no_grad():
        fx = float(model(x)[0, target])
    fb = float(np.mean(base_logits))
    return attr, fx, fb, float(attr.sum()) - (fx - fb)


SAMPLES = 64


def sampled(model, x, target, method, baselines, noise_fraction, seed):
    generator = torch.Generator().manual_seed(seed)
    sigma = noise_fraction * float(x.max() - x.min())
    total = torch.zeros_like(x[0])
    for _ in range(SAMPLES):
        if method == "SMOOTH_GRAD":
            noisy = x + sigma * torch.randn(x.shape, generator=generator)
            _, grad = gradients(model, noisy, target)
            total += grad[0].abs()
        else:
            choice = int(torch.randint(len(baselines), (1,), generator=generator))
            x0 = baseline(baselines[choice], x)
            alpha = float(torch.rand((1,), generator=generator))
            _, grad = gradients(model, x0 + alpha * (x - x0), target)
            total += ((x - x0) * grad)[0]
    return total / SAMPLES


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(20)
    models = {
        "resnet18_traced": (torchvision.models.resnet18(), "trace"),
        # smooth activations (SiLU) and no max-pooling: no ties for float rounding to break
        "efficientnet_scripted": (torchvision.models.efficientnet_b0(), "script"),
    }
    for name, (model, export) in models.items():
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        os.makedirs(os.path.join(args.out, name, "1"), exist_ok=True)
        example = torch.randn(1, 3, SIZE, SIZE)
        exported = torch.jit.trace(model, example) if export == "trace" else torch.jit.script(model)
        exported.save(os.path.join(args.out, name, "1", "model.pt"))
        with open(os.path.join(args.out, name, "config.pbtxt"), "w") as f:
            f.write(CONFIG)
    # (method, rule, steps, baselines)
    variants = [("SALIENCY", "", 0, []), ("INPUT_X_GRADIENT", "", 0, []),
                ("INTEGRATED_GRADIENTS", "GAUSS_LEGENDRE", 16, ["ZERO"]),
                ("INTEGRATED_GRADIENTS", "RIEMANN_LEFT", 6, ["ZERO"]),
                ("INTEGRATED_GRADIENTS", "RIEMANN_RIGHT", 6, ["BLACK"]),
                ("INTEGRATED_GRADIENTS", "RIEMANN_MIDDLE", 6, ["WHITE"]),
                ("INTEGRATED_GRADIENTS", "RIEMANN_TRAPEZOID", 6, ["ZERO"]),
                ("INTEGRATED_GRADIENTS", "GAUSS_LEGENDRE", 8, ["BLACK", "WHITE"])]
    rng = np.random.default_rng(21)
    manifest = []
    for name, (model, _) in models.items():
        x = torch.from_numpy(rng.standard_normal((1, 3, SIZE, SIZE), dtype=np.float32))
        x.numpy().astype("<f4").tofile(os.path.join(args.out, name + "_input.bin"))
        with torch.no_grad():
            order = torch.argsort(model(x)[0], descending=True).tolist()
        targets = [order[0], order[3]]
        for n, (method, rule, steps, baselines) in enumerate(variants):
            results = [attribute(model, x, t, method, rule, steps, baselines) for t in targets]
            attr_file = "%s_%d.bin" % (name, n)
            np.stack([r[0].numpy() for r in results]).astype("<f4").tofile(os.path.join(args.out, attr_file))
            manifest.append({"name": "%s_%d" % (name, n), "model": name, "size": SIZE,
                             "input": name + "_input.bin", "targets": targets, "method": method,
                             "rule": rule, "steps": steps, "baselines": baselines,
                             "attribution": attr_file, "logits": [r[1] for r in results],
                             "baseline_logits": [r[2] for r in results],
                             "deltas": [r[3] for r in results]})
        if name != "resnet18_traced":
            continue
        # The sampled methods, top-1 target only.
        for method, baselines, fraction in (("SMOOTH_GRAD", [], 0.15),
                                            ("GRADIENT_SHAP", ["ZERO", "BLACK"], 0.0)):
            a = sampled(model, x, targets[0], method, baselines, fraction, 1)
            b = sampled(model, x, targets[0], method, baselines, fraction, 2)
            attr_file = "%s_%s.bin" % (name, method.lower())
            a.numpy().astype("<f4").tofile(os.path.join(args.out, attr_file))
            manifest.append({"name": "%s_%s" % (name, method.lower()), "model": name,
                             "size": SIZE, "input": name + "_input.bin", "targets": [targets[0]],
                             "method": method, "rule": "", "steps": 0, "baselines": baselines,
                             "attribution": attr_file, "sampled": True, "samples": SAMPLES,
                             "noise_fraction": fraction,
                             "reference_distance": float((a - b).norm() / a.norm())})
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("attribution references for %d cases written to %s" % (len(manifest), args.out))


if __name__ == "__main__":
    main()
