#!/usr/bin/python3
"""Reference class activation maps for the C++ tests, computed with eager PyTorch.

Written here from the methods' definitions as pytorch-grad-cam 1.5 implements them
(see ../shared/METHODS.md): forward hooks capture the layers' outputs, tensor hooks their
gradients; the maps go through ReLU, min-max scaling and cv2.resize (OpenCV's own), and
several layers are averaged and scaled again. It shares no code with the C++ engine.

The procedures take an optional `reshape` (None: the layers' outputs are [B,K,h,w]), a
layout object for layers that hold their feature map otherwise (tools/transformer_reference.py):
reshape.to_nchw(t) is pytorch-grad-cam's reshape_transform, from the layer's raw output
(or its gradient) [B,...] to a [B,K,h,w] view, applied to activations and gradients as its
ActivationsAndGradients does; reshape.from_nchw(view, original) writes a [B,K,h,w] view
back into the layout of `original` (the raw output, which supplies what the view leaves
out, e.g. a class token), for ABLATION_CAM's replaced output. The maps are resized to
the input x's size (width x.shape[-1], height x.shape[-2]).

Usage: /usr/bin/python3 tools/cam_reference.py --out DIR [--extra]

--extra adds architectures the test suite does not use (densenet121, efficientnet_b0,
shufflenet_v2_x1_0), for a check by hand:
    XAI_CAM_REFERENCE_DIR=DIR build/tests/core_model_test --gtest_filter='GradCamReference*'

Writes DIR/<model>/1/model.pt (+ config.pbtxt) for the architectures below, exported from
the same random-weight eager models (seeded); DIR/overlay_*.bin, an image, a map and
show_cam_on_image's result for two image weights; and DIR/cases.json describing each case:
    {"name", "model", "layers", "targets", "input": file of float32 [1,3,224,224],
     "maps": {METHOD: {"cam": file of float32 [T,224,224], "raw": file of float32 [T,h,w]}},
     "faithfulness" (some cases): {"method", "steps", "scores": [per target: {"probability",
        "blurred_probability", "deletion_curve", "insertion_curve", "deletion_auc",
        "insertion_auc", "top20_probability"}]}}
The faithfulness metrics follow docs/METHODS.md, on the GRAD_CAM reference maps.
"""
import argparse
import json
import os

import cv2
import numpy as np
import torch
import torchvision

GRADIENT_METHODS = ["GRAD_CAM", "GRAD_CAM_PLUS_PLUS", "XGRAD_CAM", "HIRES_CAM", "LAYER_CAM"]
METHODS = (GRADIENT_METHODS + ["EIGEN_CAM", "EIGEN_GRAD_CAM"] +
           [m + "+eigen_smooth" for m in GRADIENT_METHODS])
# aug_smooth (six variants each) on one case per architecture, to keep the script quick.
AUG_SMOOTH_CASES = ("resnet18_layer4", "resnet34_two_layers", "mobilenet_last_conv")
# Grad-CAM++'s alpha = G^2 / (2 G^2 + S[A] G^3) has a pole where S[A] G = -2, which signed
# activations (a convolution's output, before its batch norm) reach: float rounding then
# decides the map, in the reference as in the engine. Left out where that happens.
# XGrad-CAM divides by S[A] + 1e-7, which mobilenet's last convolution (random weights)
# brings near zero at 128 x 128: its six aug_smooth variants then differ from the reference
# by 1.6e-4 (plain XGRAD_CAM of the same case, and the aug_smooth of the two other
# architectures, stay within 1e-4). At features.9.block.1.0 (mobilenet_nested) the
# activations are about 1e-7 and S[A] 2e-9 to 3e-7, the epsilon's size: the float32 map
# differs from the float64 one by 4.4e-5 already, and two float32 computations (the engine,
# the reference; OpenBLAS's rounding) by 1.4e-4. Its eigen_smooth projection of the same
# weighted activations too, once the engine's CPU forward folds the batch norms into the
# convolutions before the layer (issue 27's frozen prefix): 1.3e-4.
ILL_CONDITIONED = {"resnet34_inside_block": ("GRAD_CAM_PLUS_PLUS", "GRAD_CAM_PLUS_PLUS+eigen_smooth"),
                   "mobilenet_last_conv": ("XGRAD_CAM+aug_smooth",),
                   "mobilenet_nested": ("XGRAD_CAM", "XGRAD_CAM+eigen_smooth")}
# The perturbation methods (a forward per channel) on one case per architecture; the
# resnet34 one cuts inside a block, so that the block's input crosses the cut.
PERTURBATION_METHODS = ["SCORE_CAM", "SCORE_CAM+eigen_smooth", "ABLATION_CAM"]
PERTURBATION_CASES = ("resnet18_layer4", "resnet34_inside_block", "mobilenet_nested")
PERTURBATION_BATCH = 64
# ABLATION_CAM alone where the TorchScript graph does not split at the layer: a scripted
# BasicBlock calls its one ReLU module twice, so the server runs full forwards with the
# output replaced at every call, as the forward hook here does.
FULL_FORWARD_CASES = ("resnet34_relu_twice",)
# Faithfulness metrics (docs/METHODS.md) of the GRAD_CAM maps, with few steps for speed.
# (mobilenet_v3_small with random weights gives every class 1/1000 whatever the input.)
FAITHFULNESS_CASES = ("resnet18_layer4", "resnet34_two_layers")
FAITHFULNESS_STEPS = 8
BLUR_TAPS, BLUR_SIGMA = 11, 5.0
# 128 x 128: the procedures are the same at any size, and a third of 224's forwards' cost
# (SCORE_CAM's and ABLATION_CAM's hundreds of forwards were most of this script's minutes).
SIZE = 128
CONFIG = 'input { height: %d width: %d }\ninstance_group { count: 1 devices: ["cpu"] }\n' % (SIZE, SIZE)


def projection(x):
    """get_2d_projection of one [K, h, w] array: NaN to 0, M = [h*w, K] with its columns
    centred, M projected on the first right singular vector of numpy's SVD. The SVD's sign
    is arbitrary: oriented so that the value of largest magnitude is positive (the engine's
    documented choice)."""
    x = np.where(np.isnan(x), 0, x)
    m = x.reshape(x.shape[0], -1).transpose()
    m = m - m.mean(axis=0)
    _, _, vt = np.linalg.svd(m, full_matrices=True)
    p = m @ vt[0, :]
    if p[np.argmax(np.abs(p))] < 0:
        p = -p
    return p.reshape(x.shape[1:])


def weighted(a, g, method):
    """A gradient-weighted method's weighted activations [K, h, w] of activations a and
    gradients g, both [K, h, w] float32; their sum over K is the map."""
    if method == "GRAD_CAM":
        weights = g.mean(axis=(1, 2))
        return weights[:, None, None] * a
    if method == "GRAD_CAM_PLUS_PLUS":
        g2 = g ** 2
        g3 = g2 * g
        sum_a = a.sum(axis=(1, 2))
        alpha = g2 / (2 * g2 + sum_a[:, None, None] * g3 + 1e-6)
        alpha = np.where(g != 0, alpha, 0)
        weights = (np.maximum(g, 0) * alpha).sum(axis=(1, 2))
        return weights[:, None, None] * a
    if method == "XGRAD_CAM":
        sum_a = a.sum(axis=(1, 2))
        weights = (g * a / (sum_a[:, None, None] + 1e-7)).sum(axis=(1, 2))
        return weights[:, None, None] * a
    if method == "HIRES_CAM":
        return g * a
    if method == "LAYER_CAM":
        return np.maximum(g, 0) * a
    raise ValueError(method)


def cam_map(a, g, method):
    """The map before ReLU of activations a and gradients g, both [K, h, w] float32.
    "METHOD+eigen_smooth": pytorch-grad-cam's eigen_smooth, the projection of the weighted
    activations instead of their sum."""
    if method == "EIGEN_CAM":  # the activations alone: the same map for every target
        return projection(a)
    if method == "EIGEN_GRAD_CAM":
        return projection(g * a)
    if method.endswith("+eigen_smooth"):
        return projection(weighted(a, g, method[:-len("+eigen_smooth")]))
    return weighted(a, g, method).sum(axis=0)


def scale(img, size=None):
    img = img - np.min(img)
    img = img / (1e-7 + np.max(img))
    if size is not None:
        img = cv2.resize(img, size)  # (width, height), INTER_LINEAR
    return np.float32(img)


def reference(model, x, layers, targets, reshape=None):
    """{method: (cams [T,H,W], raws [T,h,w] of layers[0])}."""
    modules = dict(model.named_modules())
    acts, grads, handles = {}, {}, []
    for name in layers:
        def hook(module, inputs, output, name=name):
            acts[name] = output if reshape is None else reshape.to_nchw(output)
            output.register_hook(lambda g, name=name: grads.__setitem__(
                name, g if reshape is None else reshape.to_nchw(g)))
        handles.append(modules[name].register_forward_hook(hook))
    out = model(x.clone().requires_grad_(True))  # as pytorch-grad-cam does
    for h in handles:
        h.remove()
    result = {m: ([], []) for m in METHODS}
    for t in targets:
        grads.clear()
        out[0, t].backward(retain_graph=True)
        for method in METHODS:
            per_layer, raw = [], None
            for name in layers:
                a = acts[name].detach()[0].numpy().astype(np.float32)
                g = grads[name][0].numpy().astype(np.float32)
                m = np.maximum(cam_map(a, g, method), 0)
                raw = m if raw is None else raw
                per_layer.append(scale(m, (x.shape[-1], x.shape[-2])))
            cam = scale(np.maximum(np.stack(per_layer), 0).mean(axis=0))
            result[method][0].append(cam)
            result[method][1].append(np.float32(raw))
    return {m: (np.stack(c), np.stack(r)) for m, (c, r) in result.items()}


def aug_smoothed(model, x, layers, targets, reshape=None):
    """pytorch-grad-cam's aug_smooth, as ttach runs it: horizontal flip x multiply by 0.9,
    1.0, 1.1; each variant's final maps (and raw maps) flipped back, the six averaged
    without normalising again. {METHOD+aug_smooth: (cams, raws)} for the plain methods."""
    total = {}
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            variant = x * factor
            if flip:
                variant = torch.flip(variant, dims=[3])
            for method, (cams, raws) in reference(model, variant, layers, targets, reshape).items():
                if "+" in method:
                    continue
                if flip:
                    cams, raws = cams[:, :, ::-1], raws[:, :, ::-1]
                if method in total:
                    total[method] = (total[method][0] + cams, total[method][1] + raws)
                else:
                    total[method] = (np.float32(cams), np.float32(raws))
    return {m + "+aug_smooth": (c / 6, r / 6) for m, (c, r) in total.items()}


def activations_of(model, x, layers, reshape=None):
    """The layers' outputs [K, h, w] (float32 numpy) in one no-grad forward, copied as the
    layer returned them (later in-place operations of the network do not reach them)."""
    modules = dict(model.named_modules())
    acts, handles = {}, []
    for name in layers:
        handles.append(modules[name].register_forward_hook(
            lambda module, inputs, output, name=name: acts.__setitem__(name, output.clone())))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    if reshape is not None:
        acts = {name: reshape.to_nchw(t) for name, t in acts.items()}
    return {name: acts[name][0].numpy().astype(np.float32) for name in layers}


def score_cam_scores(model, x, a, reshape=None):
    """pytorch-grad-cam's ScoreCAM.get_cam_weights before the softmax, for activations a
    [K, h, w]: each channel upsampled (UpsamplingBilinear2d, align_corners=True), min-max
    scaled with eps 1e-8, times the input; the logits [K, classes] of the masked inputs in
    batches. (pytorch-grad-cam forwards them again for every target; the logits are the
    same, so the reference forwards once.) The masks come from the [K, h, w] view, so
    `reshape` changes nothing here."""
    with torch.no_grad():
        act = torch.from_numpy(a)[None]
        up = torch.nn.UpsamplingBilinear2d(size=x.shape[-2:])(act)
        flat = up.view(1, up.size(1), -1)
        maxs = flat.max(dim=-1)[0][:, :, None, None]
        mins = flat.min(dim=-1)[0][:, :, None, None]
        up = (up - mins) / (maxs - mins + 1e-8)
        inputs = (x[:, None] * up[:, :, None])[0]
        return torch.cat([model(inputs[i:i + PERTURBATION_BATCH])
                          for i in range(0, inputs.size(0), PERTURBATION_BATCH)]).numpy()


def ablation_scores(model, x, layer, a, reshape=None):
    """AblationCAM's scores as pytorch-grad-cam obtains them, with METHODS.md's ablation
    value: full forwards of the input in batches, the layer's output replaced (a forward
    hook, as its AblationLayer replaces the module) by the unablated output with one
    channel per row set to 0 when the output's minimum is 0, else to that minimum - 1e7.
    The logits [K, classes]. With `reshape`, a is the [K, h, w] view: the channel is
    ablated there (the minimum is the view's, so a class token does not count) and the view
    written back into the layer's layout, the rest of the raw output (a class token) as it
    was."""
    module = dict(model.named_modules())[layer]
    if reshape is not None:
        raw = []
        handle = module.register_forward_hook(lambda m, inputs, output: raw.append(output.clone()))
        with torch.no_grad():
            model(x)
        handle.remove()
    act = torch.from_numpy(a)
    low = float(act.min())
    value = 0.0 if low == 0 else low - 1e7
    channels = act.size(0)
    scores = []
    with torch.no_grad():
        for i in range(0, channels, PERTURBATION_BATCH):
            n = min(PERTURBATION_BATCH, channels - i)
            ablated = act[None].repeat(n, 1, 1, 1)
            ablated[torch.arange(n), torch.arange(i, i + n)] = value
            if reshape is not None:
                ablated = reshape.from_nchw(ablated, raw[0].expand(n, *raw[0].shape[1:]))
            handle = module.register_forward_hook(lambda m, inputs, output, t=ablated: t)
            scores.append(model(x.repeat(n, 1, 1, 1)))
            handle.remove()
    return torch.cat(scores).numpy()


def perturbation_reference(model, x, layers, targets, methods=PERTURBATION_METHODS, reshape=None):
    """{METHOD: (cams [T,H,W], raws [T,h,w])} for the perturbation methods."""
    acts = activations_of(model, x, layers, reshape)
    scores = ({name: score_cam_scores(model, x, acts[name], reshape) for name in layers}
              if any(m.startswith("SCORE_CAM") for m in methods) else {})
    ablations = ({name: ablation_scores(model, x, name, acts[name], reshape) for name in layers}
                 if "ABLATION_CAM" in methods else {})
    with torch.no_grad():
        logits = model(x)[0].numpy()
    result = {}
    for method in methods:
        cams, raws = [], []
        for t in targets:
            per_layer, raw = [], None
            for name in layers:
                a = acts[name]
                if method == "ABLATION_CAM":
                    s = logits[t]
                    w = (s - ablations[name][:, t]) / s
                else:
                    w = torch.softmax(torch.from_numpy(scores[name][:, t]), dim=0).numpy()
                weighted_a = w[:, None, None] * a
                m = projection(weighted_a) if method.endswith("+eigen_smooth") else weighted_a.sum(axis=0)
                m = np.maximum(m, 0)
                raw = m if raw is None else raw
                per_layer.append(scale(m, (x.shape[-1], x.shape[-2])))
            cams.append(scale(np.maximum(np.stack(per_layer), 0).mean(axis=0)))
            raws.append(np.float32(raw))
        result[method] = (np.stack(cams), np.stack(raws))
    return result


def blurred_copy(x):
    """x convolved per channel with the 2-D sampled Gaussian, zero padding."""
    d = np.arange(BLUR_TAPS, dtype=np.float64) - BLUR_TAPS // 2
    g = np.exp(-d ** 2 / (2 * BLUR_SIGMA ** 2))
    g /= g.sum()
    kernel = torch.from_numpy(np.outer(g, g).astype(np.float32))
    weight = kernel.expand(x.shape[1], 1, BLUR_TAPS, BLUR_TAPS)
    return torch.nn.functional.conv2d(x, weight, padding=BLUR_TAPS // 2, groups=x.shape[1])


def faithfulness(model, x, cam, target, steps):
    """Deletion and insertion curves and AUCs, and the top-20% probability, of one [H,W] map."""
    h, w = cam.shape
    n = h * w
    order = np.argsort(-cam.reshape(-1), kind="stable")  # ties: the lower pixel index first
    base = blurred_copy(x)

    def compose(count, top, rest):
        keep = np.zeros(n, dtype=bool)
        keep[order[:count]] = True
        return torch.where(torch.from_numpy(keep).view(1, 1, h, w), top, rest)

    inputs = ([compose(k * n // steps, base, x) for k in range(steps + 1)] +
              [compose(k * n // steps, x, base) for k in range(steps + 1)] +
              [compose(n // 5, x, base)])
    with torch.no_grad():
        p = torch.softmax(model(torch.cat(inputs)), 1)[:, target].numpy().astype(np.float64)
    deletion, insertion = p[:steps + 1], p[steps + 1:2 * steps + 2]
    return {"probability": p[0], "blurred_probability": p[steps],
            "deletion_curve": deletion.tolist(), "insertion_curve": insertion.tolist(),
            "deletion_auc": float(np.trapz(deletion, dx=1.0 / steps)),
            "insertion_auc": float(np.trapz(insertion, dx=1.0 / steps)),
            "top20_probability": p[-1]}


def show_cam_on_image(img, mask, image_weight):
    """pytorch-grad-cam's overlay, for a float32 image in [0,1] and a mask in [0,1]."""
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), cv2.COLORMAP_JET)
    heatmap = np.float32(heatmap) / 255
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


def pick_targets(model, x, layers, count, reshape=None):
    """The `count` highest-scoring classes whose maps are not all zero for any method:
    with random weights some classes have only negative evidence, and a comparison of
    zeros with zeros proves nothing."""
    with torch.no_grad():
        order = torch.argsort(model(x)[0], descending=True).tolist()
    chosen = []
    for target in order:
        maps = reference(model, x, layers, [target], reshape)
        if all(raws.max() > 0 for _, raws in maps.values()):
            chosen.append(target)
        if len(chosen) == count:
            return chosen
    raise RuntimeError("no class with non-degenerate maps")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (its contents are replaced)")
    parser.add_argument("--extra", action="store_true",
                        help="also architectures beyond the test suite's (slower)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(10)
    architectures = {
        # name: (eager model, export)
        "resnet18_traced": (torchvision.models.resnet18(), "trace"),
        # scripted: resnet34's BasicBlocks share one TorchScript type, the trap for
        # per-instance capture and cut.
        "resnet34_scripted": (torchvision.models.resnet34(), "script"),
        # layers nested several levels deep (features.9.block.1.0)
        "mobilenet_v3_small_traced": (torchvision.models.mobilenet_v3_small(), "trace"),
    }
    # (case, model, layers, number of targets). With random weights, mobilenet's blocks
    # output near-zero activations, where XGrad-CAM's division by S[A] + 1e-7 turns float
    # rounding into visible differences (ILL_CONDITIONED); the other methods are well
    # conditioned there.
    cases = [
        ("resnet18_layer4", "resnet18_traced", ["layer4"], 2),
        ("resnet18_layer3_and_layer4", "resnet18_traced", ["layer3", "layer4"], 1),
        ("resnet34_shared_type_block", "resnet34_scripted", ["layer3.2"], 1),
        ("resnet34_two_layers", "resnet34_scripted", ["layer4.0", "layer2"], 2),
        ("mobilenet_nested", "mobilenet_v3_small_traced", ["features.9.block.1.0"], 1),
        ("mobilenet_last_conv", "mobilenet_v3_small_traced", ["features.12.0"], 2),
        # Inside a block: the block's input crosses the cut to its downsample branch.
        # Last, so that the cases before them keep their random inputs; then a layer
        # where the graph does not split (FULL_FORWARD_CASES).
        ("resnet34_inside_block", "resnet34_scripted", ["layer4.0.conv2"], 1),
        ("resnet34_relu_twice", "resnet34_scripted", ["layer1.0.relu"], 1),
    ]
    if args.extra:
        architectures.update({
            "densenet121_traced": (torchvision.models.densenet121(), "trace"),
            "efficientnet_b0_scripted": (torchvision.models.efficientnet_b0(), "script"),
            "shufflenet_v2_traced": (torchvision.models.shufflenet_v2_x1_0(), "trace"),
        })
        cases += [
            ("densenet_block4", "densenet121_traced", ["features.denseblock4"], 2),
            ("densenet_deep_conv", "densenet121_traced",
             ["features.denseblock3.denselayer24.conv2", "features.denseblock4"], 1),
            ("efficientnet_stage", "efficientnet_b0_scripted", ["features.6"], 2),
            ("efficientnet_nested", "efficientnet_b0_scripted", ["features.7.0.block.1"], 1),
            ("shufflenet_conv5", "shufflenet_v2_traced", ["conv5"], 1),
            ("shufflenet_stage4", "shufflenet_v2_traced", ["stage4", "stage3"], 2),
        ]
    rng = np.random.default_rng(11)
    for name, (model, export) in architectures.items():
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        os.makedirs(os.path.join(args.out, name, "1"), exist_ok=True)
        example = torch.randn(1, 3, SIZE, SIZE)
        exported = torch.jit.trace(model, example) if export == "trace" else torch.jit.script(model)
        exported.save(os.path.join(args.out, name, "1", "model.pt"))
        with open(os.path.join(args.out, name, "config.pbtxt"), "w") as f:
            f.write(CONFIG)

    manifest = []
    for case, model_name, layers, count in cases:
        model = architectures[model_name][0]
        x = torch.from_numpy(rng.standard_normal((1, 3, SIZE, SIZE), dtype=np.float32))
        x.numpy().astype("<f4").tofile(os.path.join(args.out, case + "_input.bin"))
        targets = pick_targets(model, x, layers, count)
        maps = {}
        if case in FULL_FORWARD_CASES:
            computed = perturbation_reference(model, x, layers, targets, ["ABLATION_CAM"])
        else:
            computed = reference(model, x, layers, targets)
        if case in AUG_SMOOTH_CASES:
            computed.update(aug_smoothed(model, x, layers, targets))
        if case in PERTURBATION_CASES:
            computed.update(perturbation_reference(model, x, layers, targets))
        for method, (cams, raws) in computed.items():
            if method in ILL_CONDITIONED.get(case, ()):
                continue
            cam_file, raw_file = "%s_%s_cam.bin" % (case, method), "%s_%s_raw.bin" % (case, method)
            cams.astype("<f4").tofile(os.path.join(args.out, cam_file))
            raws.astype("<f4").tofile(os.path.join(args.out, raw_file))
            maps[method] = {"cam": cam_file, "raw": raw_file, "raw_shape": list(raws.shape[1:])}
        entry = {"name": case, "model": model_name, "size": SIZE, "layers": layers,
                 "targets": targets, "input": case + "_input.bin", "maps": maps}
        if case in FAITHFULNESS_CASES:
            cams = computed["GRAD_CAM"][0]
            entry["faithfulness"] = {
                "method": "GRAD_CAM", "steps": FAITHFULNESS_STEPS,
                "scores": [faithfulness(model, x, cams[i], t, FAITHFULNESS_STEPS)
                           for i, t in enumerate(targets)]}
        manifest.append(entry)
    # show_cam_on_image (use_rgb=False: OpenCV's BGR throughout), on a random 8-bit image
    # and map, for the overlay's pixel-exact test.
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mask = rng.random((37, 53), dtype=np.float32)
    image.tofile(os.path.join(args.out, "overlay_image.bin"))
    mask.astype("<f4").tofile(os.path.join(args.out, "overlay_cam.bin"))
    for weight in (0.5, 0.3):
        show_cam_on_image(np.float32(image) / 255, mask, weight).tofile(
            os.path.join(args.out, "overlay_expected_%g.bin" % weight))

    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("CAM references for %d cases written to %s" % (len(manifest), args.out))


if __name__ == "__main__":
    main()
