#!/usr/bin/python3
"""Builds the test fixtures: a model repository of random-weight models (seeded) and
reference outputs computed with eager PyTorch on the same TorchScript files.

Usage: /usr/bin/python3 tools/make_fixtures.py --out DIR [--demo-model models/shapes]

Writes
  DIR/repo/resnet18/            torchvision resnet18, traced, 224x224, 1000 labels
  DIR/repo/resnet18_scripted/   the same weights, torch.jit.script
  DIR/repo/tiny/                a 3-class CNN at 16x16 with two instances (pool tests)
  DIR/repo/tiny_batched/        tiny's file behind a dynamic batcher (batches of 8, 2 s delay)
  DIR/repo/flaky/               4-class CNN whose forward raises when the input mean > 100
  DIR/repo/flaky_batched/       flaky's file behind a dynamic batcher (batches of 4, 2 s delay)
  DIR/repo/analytic/            hand-set 1x1 conv and linear weights: CAMs known exactly
  DIR/repo/planted/             hand-set 1x1 routing: every class's decision path is known
                                (expected_chains.json: class k -> channels of stage1..stage4)
  DIR/repo/shapes               a copy of the demo model (when --demo-model exists)
  DIR/repo/not_torchscript/     model.pt is not TorchScript            -> FAILED
  DIR/repo/wrong_output/        returns a feature map, not logits      -> FAILED
  DIR/repo/bad_labels/          labels.txt has the wrong line count    -> FAILED
  DIR/repo/bad_config/          config.pbtxt has a bad value           -> FAILED
  DIR/repo/no_version/          config but no version directory        -> FAILED
  DIR/repo/unbatchable/         batching configured, forward gives [1,C] -> FAILED
  DIR/bench/resnet18/            resnet18's file with dynamic batching (for xai-bench)
  DIR/reference/                inputs and the probabilities PyTorch gives for them:
      input_<k>.bin             float32 [1,3,224,224] tensor, little-endian
      image.png                 a 224x224 RGB PNG (no resize needed)
      <model>_<k>.bin / <model>_image.bin   float32 softmax probabilities [1000]

The script is idempotent: it rewrites DIR/repo and DIR/reference.
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
import torchvision
from PIL import Image

IMAGENET_CONFIG = """input {{ height: 224 width: 224 mean: [0.485, 0.456, 0.406] std: [0.229, 0.224, 0.225] }}
default_cam_layer: "layer4"
default_path_layers: ["layer1", "layer2", "layer3", "layer4"]
instance_group {{ count: {count} devices: ["cpu"] }}
"""
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class Tiny(torch.nn.Module):
    """A small CNN: features (conv, relu) -> pool -> fc."""

    def __init__(self, classes=3):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU())
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Flaky(Tiny):
    """A model that fails at run time, in the way the input's mean says:
    whole batch's mean > 100: raises; in (40, 50]: returns [B, 7] instead of [B, classes];
    in (30, 40]: asks for 2^62 bytes (out of memory); per sample, mean in (20, 30]: its logits
    are NaN; in (10, 20]: infinite. Below 10 it answers normally."""

    def forward(self, x):
        m = x.mean()
        if bool(m > 100.0):
            raise RuntimeError("flaky model refuses inputs with mean > 100")
        if bool(m > 40.0) and bool(m <= 50.0):
            return torch.zeros(x.shape[0], 7)
        if bool(m > 30.0) and bool(m <= 40.0):
            huge = torch.empty([1 << 60])
            return huge[: x.shape[0] * 4].view(x.shape[0], 4)
        logits = self.fc(torch.flatten(self.pool(self.features(x)), 1))
        sample = x.mean(dim=[1, 2, 3]).unsqueeze(1)
        logits = torch.where((sample > 20.0) & (sample <= 30.0), torch.full_like(logits, float("nan")), logits)
        logits = torch.where((sample > 10.0) & (sample <= 20.0), torch.full_like(logits, float("inf")), logits)
        return logits


class Analytic(torch.nn.Module):
    """Known weights, known maps: conv (1x1, 3 -> 2 channels) copies input channel 0 as
    A_0 = x_0 and A_1 = -x_0; fc reads logit_0 = mean(A_0) + 0.5 mean(A_1) and
    logit_1 = mean(A_1). For target 0 every gradient method's map is 0.5 * x_0 / (h*w)
    (XGrad-CAM's up to its 1e-7); for target 1 it is -x_0 / (h*w), all zero after ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1, bias=False)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]]).view(2, 3, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


class Planted(torch.nn.Module):
    """A decision path planted by hand: a 1x1 stem spreads the image over C channels, then
    three 1x1 stages route channel i to channel perm[s][i] (weight 1) with faint mixing
    (weight EPS to every other channel), and the head reads class k from channel k. The
    path of class k is therefore known: stage4 k, stage3 inv4[k], stage2 inv3[inv4[k]],
    stage1 inv2[...]; its edges carry about 1 / (1 + (C-1) EPS) of their channel's input."""

    C = 6
    EPS = 0.02
    PERMS = [[2, 0, 5, 1, 3, 4], [4, 5, 1, 0, 2, 3], [1, 3, 0, 5, 4, 2]]  # stage2, stage3, stage4

    def __init__(self):
        super().__init__()
        c = self.C
        self.stage1 = torch.nn.Sequential(torch.nn.Conv2d(3, c, 1, bias=False), torch.nn.ReLU())
        self.stage2 = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1, bias=False), torch.nn.ReLU())
        self.stage3 = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1, bias=False), torch.nn.ReLU())
        self.stage4 = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1, bias=False), torch.nn.ReLU())
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(c, c, bias=False)
        with torch.no_grad():
            # The stem: every channel a positive mix of the colours, alike in size.
            self.stage1[0].weight.copy_(torch.tensor(
                [[1.0, 0.8, 0.6], [0.6, 1.0, 0.8], [0.8, 0.6, 1.0],
                 [1.0, 0.6, 0.8], [0.8, 1.0, 0.6], [0.6, 0.8, 1.0]]).view(c, 3, 1, 1))
            for stage, perm in zip((self.stage2, self.stage3, self.stage4), self.PERMS):
                w = torch.full((c, c), self.EPS)
                for i, o in enumerate(perm):
                    w[o, i] = 1.0
                stage[0].weight.copy_(w.view(c, c, 1, 1))
            self.fc.weight.copy_(torch.eye(c))

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))

    @classmethod
    def expected_chains(cls):
        """Class k -> its planted channels, stage1 to stage4."""
        inverses = [{o: i for i, o in enumerate(perm)} for perm in cls.PERMS]
        chains = []
        for k in range(cls.C):
            chain = [k]
            for inverse in reversed(inverses):
                chain.insert(0, inverse[chain[0]])
            chains.append(chain)
        return chains


class BatchOfOne(Tiny):
    """Flattens the whole batch into one row: returns [1, classes] whatever the batch."""

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).mean(0).view(1, -1))


class FeatureMap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def save_model(repo, name, module, config, labels=None, version=1):
    os.makedirs(os.path.join(repo, name, str(version)), exist_ok=True)
    module.save(os.path.join(repo, name, str(version), "model.pt"))
    write(os.path.join(repo, name, "config.pbtxt"), config)
    if labels is not None:
        write(os.path.join(repo, name, "labels.txt"), "".join(l + "\n" for l in labels))


def probabilities(scripted, x):
    with torch.no_grad():
        return torch.softmax(scripted(x), dim=1)[0].numpy().astype("<f4")


def link_or_copy(source, target):
    """A hard link to `source` at `target`, or a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (rewritten)")
    parser.add_argument("--demo-model", default=os.path.join(os.path.dirname(__file__), "..", "models", "shapes"),
                        help="demo model directory to copy into the repository")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    repo = os.path.join(args.out, "repo")
    ref = os.path.join(args.out, "reference")
    # Only our own folders: other fixture scripts write beside them, possibly at the same time.
    for folder in (repo, ref):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=1000).eval()
    example = torch.randn(1, 3, 224, 224)
    traced = torch.jit.trace(resnet, example)
    scripted = torch.jit.script(resnet)
    labels = ["class_%d" % i for i in range(1000)]
    save_model(repo, "resnet18", traced, IMAGENET_CONFIG.format(count=1), labels)
    save_model(repo, "resnet18_scripted", scripted, IMAGENET_CONFIG.format(count=1), labels)

    torch.manual_seed(1)
    tiny = torch.jit.trace(Tiny(3).eval(), torch.randn(1, 3, 16, 16))
    save_model(repo, "tiny", tiny,
               'input { height: 16 width: 16 }\ninstance_group { count: 2 devices: ["cpu"] }\n',
               ["red", "green", "blue"])
    # The same weights behind a dynamic batcher whose delay is long enough for a test to
    # fill a batch of 8.
    save_model(repo, "tiny_batched", tiny,
               'input { height: 16 width: 16 }\n'
               'dynamic_batching { max_batch_size: 8 max_queue_delay_us: 2000000 }\n',
               ["red", "green", "blue"])
    torch.manual_seed(2)
    flaky = torch.jit.script(Flaky(4).eval())
    save_model(repo, "flaky", flaky, "input { height: 16 width: 16 }\n")
    save_model(repo, "flaky_batched", flaky,
               "input { height: 16 width: 16 }\n"
               "dynamic_batching { max_batch_size: 4 max_queue_delay_us: 2000000 }\n")

    save_model(repo, "analytic", torch.jit.trace(Analytic().eval(), torch.randn(1, 3, 4, 4)),
               'input { height: 4 width: 4 }\ndefault_cam_layer: "conv"\n')
    save_model(repo, "planted", torch.jit.trace(Planted().eval(), torch.rand(1, 3, 8, 8)),
               'input { height: 8 width: 8 }\n'
               'default_path_layers: ["stage1", "stage2", "stage3", "stage4"]\n')
    write(os.path.join(repo, "planted", "expected_chains.json"), json.dumps(Planted.expected_chains()) + "\n")

    # Models that must fail to load, each with its own reason.
    write(os.path.join(repo, "not_torchscript", "1", "model.pt"), "this is not a TorchScript archive\n")
    write(os.path.join(repo, "not_torchscript", "config.pbtxt"), "input { height: 16 width: 16 }\n")
    save_model(repo, "wrong_output", torch.jit.trace(FeatureMap().eval(), torch.randn(1, 3, 16, 16)),
               "input { height: 16 width: 16 }\n")
    save_model(repo, "bad_labels", torch.jit.trace(Tiny(3).eval(), torch.randn(1, 3, 16, 16)),
               "input { height: 16 width: 16 }\n", ["only", "two"])
    save_model(repo, "bad_config", torch.jit.trace(Tiny(3).eval(), torch.randn(1, 3, 16, 16)),
               "input { height: 16 width: 16 std: [0.5, 0.0, 0.5] }\n")
    write(os.path.join(repo, "no_version", "config.pbtxt"), "input { height: 16 width: 16 }\n")
    save_model(repo, "unbatchable", torch.jit.script(BatchOfOne(3).eval()),
               "input { height: 16 width: 16 }\ndynamic_batching { max_batch_size: 4 }\n")

    # A repository for xai-bench: resnet18's file behind a dynamic batcher that runs what
    # is queued (no waiting), as one would serve it on a CPU.
    bench = os.path.join(args.out, "bench")
    shutil.rmtree(bench, ignore_errors=True)
    os.makedirs(os.path.join(bench, "resnet18"))
    # A hard link, not a symlink: the server refuses links that leave its repository.
    os.makedirs(os.path.join(bench, "resnet18", "1"))
    link_or_copy(os.path.join(repo, "resnet18", "1", "model.pt"),
                 os.path.join(bench, "resnet18", "1", "model.pt"))
    write(os.path.join(bench, "resnet18", "config.pbtxt"),
          IMAGENET_CONFIG.format(count=1) + "dynamic_batching { max_batch_size: 8 max_queue_delay_us: 0 }\n")

    demo = os.path.abspath(args.demo_model)
    if os.path.isdir(demo):
        shutil.copytree(demo, os.path.join(repo, "shapes"))

    # References: random tensors and one 224x224 PNG, through both exports.
    rng = np.random.default_rng(7)
    models = {"resnet18": torch.jit.load(os.path.join(repo, "resnet18", "1", "model.pt")),
              "resnet18_scripted": torch.jit.load(os.path.join(repo, "resnet18_scripted", "1", "model.pt"))}
    for k in range(2):
        x = torch.from_numpy(rng.standard_normal((1, 3, 224, 224), dtype=np.float32))
        x.numpy().astype("<f4").tofile(os.path.join(ref, "input_%d.bin" % k))
        for name, model in models.items():
            probabilities(model, x).tofile(os.path.join(ref, "%s_%d.bin" % (name, k)))
    # A smooth image with structure, so that the classes differ from those of noise.
    yy, xx = np.mgrid[0:224, 0:224].astype(np.float32) / 223.0
    pixels = np.stack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx + 4 * yy)], axis=-1)
    pixels = np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(os.path.join(ref, "image.png"))
    x = torch.from_numpy(((pixels.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy())[None]
    for name, model in models.items():
        probabilities(model, x).tofile(os.path.join(ref, "%s_image.bin" % name))
    print("fixtures written to", args.out)


if __name__ == "__main__":
    main()
