#!/usr/bin/python3
"""Train xai-serve's bundled demo model: a small CNN on tools/make_shapes.py images.

Run from the repository root with Debian's interpreter (python3-torch 1.13):

    /usr/bin/python3 tools/train_shapes.py

It renders a training set and a held-out set in memory with make_shapes (128x128,
then an exact 2x2 box average down to the model's 64x64 input, which is what the
server's OpenCV INTER_AREA resize does for a factor of 2), trains ShapesNet on CPU,
and, if the held-out accuracy reaches MIN_ACCURACY, writes

    <out>/1/model.pt       TorchScript (torch.jit.trace, eval mode, input [1,3,64,64])
    <out>/labels.txt       class names in class-id order
    <out>/config.pbtxt     the serving config xai-serve reads
    <samples>/             one 128x128 example per class plus boxes.csv

Model input: RGB, pixel / 255, then (x - 0.5) / 0.25 per channel; output: logits [B, 5].
The exit status is 1 if the held-out accuracy is below MIN_ACCURACY (nothing is written).

Training loss: cross-entropy plus, weighted by --loc-weight, a localisation loss that
uses make_shapes' bounding boxes to keep the class evidence on the object (see
localisation_loss). Without it the model classifies just as well, but its Grad-CAM
peak often sits in a stage4 cell next to the object (an edge or a star tip seen from
outside) rather than on it; a demo model for an explanation service should have
explanations that visibly point at the object. Augmentation: random flips and
90-degree rotations of each batch.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_shapes  # noqa: E402  (sibling module, found through the path above)

RENDER_SIZE = 128   # make_shapes renders at this size ...
INPUT_SIZE = 64     # ... and the model sees this (exact 2x2 box average)
CAM_GRID = INPUT_SIZE // 8  # stage4's spatial size (three 2x2 max pools)
MEAN, STD = 0.5, 0.25
MIN_ACCURACY = 0.97
# The held-out set uses seed + VAL_SEED_OFFSET; the samples use a fixed seed, so they
# are reproducible with: make_shapes.py --out samples --count 5 --seed 20240501
VAL_SEED_OFFSET = 1_000_000
SAMPLES_SEED = 20240501

CONFIG_PBTXT = """\
# The bundled demo model: a small CNN trained by tools/train_shapes.py on tools/make_shapes.py images.
name: "shapes"
input {
  height: 64
  width: 64
  color_order: RGB
  mean: [0.5, 0.5, 0.5]
  std: [0.25, 0.25, 0.25]
  resize: STRETCH
}
default_cam_layer: "stage4"
default_path_layers: ["stage1", "stage2", "stage3", "stage4"]
instance_group { count: 1 devices: ["auto"] }
"""


def _stage(in_channels, out_channels, pool):
    """Conv3x3 -> BatchNorm -> ReLU, optionally followed by a 2x2 max pool."""
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
              nn.BatchNorm2d(out_channels),
              nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ShapesNet(nn.Module):
    """Four conv stages, global average pooling, one linear layer.

    xai-serve addresses layers by module path ("stage1" .. "stage4"), so keep the
    attribute names. At 64x64 input: stage1 -> 16x32x32, stage2 -> 32x16x16,
    stage3 -> 64x8x8, stage4 -> 64x8x8 (no pool), pool -> 64x1x1, fc -> 5 logits.
    """

    def __init__(self, widths=(16, 32, 64, 64), num_classes=len(make_shapes.CLASSES)):
        super().__init__()
        self.stage1 = _stage(3, widths[0], pool=True)
        self.stage2 = _stage(widths[0], widths[1], pool=True)
        self.stage3 = _stage(widths[1], widths[2], pool=True)
        self.stage4 = _stage(widths[2], widths[3], pool=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_classes)

    def features(self, x):
        """The stage4 feature map, the default Grad-CAM layer."""
        return self.stage4(self.stage3(self.stage2(self.stage1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def render(count, seed):
    """make_shapes data: images (uint8 [N, 64, 64, 3]), class ids (int64 [N]) and
    in-box masks (bool [N, 8, 8]: which stage4 cells have their centre in the object's box)."""
    images = np.empty((count, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    in_box = np.empty((count, CAM_GRID, CAM_GRID), dtype=bool)
    centres = (np.arange(CAM_GRID) + 0.5) * RENDER_SIZE / CAM_GRID
    for i, (_, image, label, (x0, y0, x1, y1)) in enumerate(
            make_shapes.generate(count, seed, RENDER_SIZE, RENDER_SIZE)):
        images[i] = np.asarray(image.reduce(RENDER_SIZE // INPUT_SIZE))
        labels[i] = make_shapes.CLASSES.index(label)
        in_box[i] = (((y0 <= centres) & (centres < y1))[:, None]
                     & ((x0 <= centres) & (centres < x1))[None, :])
    return torch.from_numpy(images), torch.from_numpy(labels), torch.from_numpy(in_box)


def to_input(images):
    """uint8 NHWC RGB -> normalised float NCHW, exactly as the server prepares input."""
    return (images.permute(0, 3, 1, 2).float() / 255.0 - MEAN) / STD


def augment(x, in_box):
    """The same random flip and 90-degree rotation of a batch of inputs [B, C, H, W]
    and their in-box masks [B, h, w]; every class is invariant to them."""
    if torch.rand(()) < 0.5:
        x, in_box = x.flip(3), in_box.flip(2)
    k = int(torch.randint(4, ()))
    return torch.rot90(x, k, dims=(2, 3)), torch.rot90(in_box, k, dims=(1, 2))


def localisation_loss(model, features, labels, in_box):
    """-log of the share of the true class's class-activation map inside the box.

    For this architecture (global average pooling, then fc) Grad-CAM at stage4 is
    proportional to the per-cell class score fc.weight[c] . features[:, :, i, j], so
    putting that score's spatial softmax mass on cells inside the object's box
    teaches the model to base its decision on the object rather than its surroundings.
    """
    cam = torch.einsum("bkhw,bk->bhw", features, model.fc.weight[labels]).flatten(1)
    inside = torch.logsumexp(cam.masked_fill(~in_box.flatten(1), float("-inf")), dim=1)
    return (torch.logsumexp(cam, dim=1) - inside).mean()


def train(model, images, labels, in_box, epochs, batch_size, lr, loc_weight):
    """AdamW with a one-cycle learning-rate schedule; prints one line per epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = (len(images) + batch_size - 1) // batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    for epoch in range(epochs):
        model.train()
        start, total_ce, total_loc, correct = time.time(), 0.0, 0.0, 0
        for idx in torch.randperm(len(images)).split(batch_size):
            x, mask = augment(to_input(images[idx]), in_box[idx])
            y = labels[idx]
            features = model.features(x)
            logits = model.fc(torch.flatten(model.pool(features), 1))
            ce = F.cross_entropy(logits, y)
            loc = localisation_loss(model, features, y, mask)
            optimizer.zero_grad()
            (ce + loc_weight * loc).backward()
            optimizer.step()
            scheduler.step()
            total_ce += ce.item() * len(idx)
            total_loc += loc.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
        print(f"epoch {epoch + 1}/{epochs}: cross-entropy {total_ce / len(images):.4f} "
              f"localisation {total_loc / len(images):.4f} "
              f"train acc {correct / len(images):.4f} ({time.time() - start:.0f} s)",
              flush=True)


@torch.no_grad()
def evaluate(model, images, labels, in_box, batch_size=256):
    """(accuracy, share of images whose stage4 Grad-CAM peak cell for the predicted
    class has its centre inside the object's box)."""
    model.eval()
    correct = peak_in_box = 0
    for i in range(0, len(images), batch_size):
        features = model.features(to_input(images[i:i + batch_size]))
        pred = model.fc(torch.flatten(model.pool(features), 1)).argmax(1)
        cam = torch.einsum("bkhw,bk->bhw", features, model.fc.weight[pred]).flatten(1)
        peak = cam.argmax(1, keepdim=True)
        correct += (pred == labels[i:i + batch_size]).sum().item()
        peak_in_box += in_box[i:i + batch_size].flatten(1).gather(1, peak).sum().item()
    return correct / len(images), peak_in_box / len(images)


@torch.no_grad()
def export(model, out_dir, check_images):
    """Trace to <out>/1/model.pt and check the reloaded module against eager mode."""
    model.eval()
    path = os.path.join(out_dir, "1", "model.pt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    traced = torch.jit.trace(model, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    traced.save(path)
    reloaded = torch.jit.load(path)
    checks = [to_input(check_images), torch.randn(3, 3, INPUT_SIZE, INPUT_SIZE)]
    diff = max((reloaded(x) - model(x)).abs().max().item() for x in checks)
    if diff >= 1e-5:
        raise RuntimeError(f"traced model differs from eager model: max abs diff {diff}")
    print(f"exported {path} ({os.path.getsize(path)} bytes); "
          f"reloaded vs eager max abs diff {diff:.2e}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Train xai-serve's bundled demo CNN on synthetic make_shapes images "
            f"(classes: {', '.join(make_shapes.CLASSES)}) and export it as TorchScript "
            "with labels.txt and config.pbtxt. Data is rendered in memory at 128x128 "
            "and box-averaged to the 64x64 model input; the held-out set uses "
            f"seed + {VAL_SEED_OFFSET}. Exits with status 1, writing nothing, if "
            f"the held-out accuracy is below {MIN_ACCURACY}."),
        epilog=(
            "Writes OUT/1/model.pt, OUT/labels.txt, OUT/config.pbtxt and SAMPLES/ "
            "(one 128x128 image per class and boxes.csv, seed "
            f"{SAMPLES_SEED}). Uses 2 CPU threads; the defaults take a few minutes."),
    )
    parser.add_argument("--out", default="models/shapes",
                        help="model directory to write (default models/shapes)")
    parser.add_argument("--samples", default="samples",
                        help="directory for the per-class sample images (default samples)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for training data, weight init and batch order (default 0)")
    parser.add_argument("--train", type=int, default=8000,
                        help="number of training images (default 8000)")
    parser.add_argument("--val", type=int, default=2000,
                        help="number of held-out images (default 2000)")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3,
                        help="peak learning rate of the one-cycle schedule (default 3e-3)")
    parser.add_argument("--loc-weight", type=float, default=0.5,
                        help="weight of the box-supervised localisation loss that keeps "
                             "the Grad-CAM evidence on the object (default 0.5; 0 disables)")
    args = parser.parse_args(argv)
    if min(args.train, args.val, args.epochs, args.batch_size) < 1:
        parser.error("--train, --val, --epochs and --batch-size must be positive")

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    start = time.time()

    train_images, train_labels, train_in_box = render(args.train, args.seed)
    val_images, val_labels, val_in_box = render(args.val, args.seed + VAL_SEED_OFFSET)
    print(f"rendered {args.train} training and {args.val} held-out images "
          f"({time.time() - start:.0f} s)", flush=True)

    model = ShapesNet()
    train(model, train_images, train_labels, train_in_box, args.epochs, args.batch_size,
          args.lr, args.loc_weight)
    acc, peak_in_box = evaluate(model, val_images, val_labels, val_in_box)
    print(f"held-out accuracy: {acc:.4f} ({args.val} images); "
          f"Grad-CAM peak cell inside the box: {peak_in_box:.4f}")
    if acc < MIN_ACCURACY:
        print(f"error: held-out accuracy {acc:.4f} is below {MIN_ACCURACY}; "
              "nothing written", file=sys.stderr)
        return 1

    export(model, args.out, val_images[:8])
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("".join(label + "\n" for label in make_shapes.CLASSES))
    with open(os.path.join(args.out, "config.pbtxt"), "w") as f:
        f.write(CONFIG_PBTXT)
    make_shapes.write_dataset(args.samples, len(make_shapes.CLASSES), SAMPLES_SEED,
                              RENDER_SIZE, RENDER_SIZE)
    print(f"wrote {args.out}/labels.txt, {args.out}/config.pbtxt and {args.samples}/ "
          f"(total {time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
