#!/usr/bin/python3
"""Synthetic "shapes" data set: one filled shape per image on a cluttered background.

This is the data behind xai-serve's bundled demo model (see tools/train_shapes.py).
Every image shows exactly ONE object of one of the classes in CLASSES (the class id
is the index in that tuple), at a random position fully inside the image, with a
random size, colour and rotation. The background is a random colour gradient with
smooth blotchy noise, plus distractors (thin lines, small dots, small rectangle
outlines) that are much smaller or thinner than the object, so the object is what a
classifier has to look at.

Use it as a module (make_sample, generate, write_dataset) or as a command:

    /usr/bin/python3 tools/make_shapes.py --out DIR --count N --seed S

which writes DIR/<label>_<i>.png and DIR/boxes.csv (see --help).

Bounding boxes are (x0, y0, x1, y1) in pixels with x0, y0 inclusive and x1, y1
EXCLUSIVE (like Python slices and PIL's getbbox): the object covers columns
x0 .. x1-1 and rows y0 .. y1-1. The box is the tight box around every pixel the
(anti-aliased) object touches.

Output is fully determined by the seed and the image size (numpy.random.default_rng).
"""

import argparse
import csv
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

# Class names in class-id order. The model's labels.txt uses exactly these.
CLASSES = ("circle", "square", "triangle", "star", "cross")

# Object size: diameter of the shape's circumscribed circle, as a fraction of the
# shorter image side. Whatever the rotation, the object fits in that circle.
MIN_SIZE, MAX_SIZE = 0.25, 0.45
# Margin (pixels) kept between the object's circumscribed circle and the image border.
BORDER = 2
# Anti-aliasing: the object mask is drawn this many times larger, then box-averaged.
SUPERSAMPLE = 4
# Minimum RGB distance between the object's colour and the mean background under it.
MIN_CONTRAST = 110.0


def _unit_polygon(label):
    """Vertices (k, 2) of an upright shape inscribed in a circle of radius 0.5 at (0, 0)."""
    if label == "circle":
        angles = np.linspace(0.0, 2.0 * math.pi, 96, endpoint=False)
        return 0.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if label == "square":
        h = 0.5 / math.sqrt(2.0)
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    if label == "triangle":
        angles = -math.pi / 2 + np.arange(3) * 2.0 * math.pi / 3
        return 0.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if label == "star":
        # Five outer tips alternating with five inner corners at 0.4 of the tip radius.
        angles = -math.pi / 2 + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 0.5, 0.2)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    if label == "cross":
        # A plus sign; arms are 0.32 of the diameter thick, arm ends touch the circle.
        t = 0.16
        a = math.sqrt(0.25 - t * t)
        return np.array([[-t, -a], [t, -a], [t, -t], [a, -t], [a, t], [t, t],
                         [t, a], [-t, a], [-t, t], [-a, t], [-a, -t], [-t, -t]])
    raise ValueError(f"unknown label {label!r}; expected one of {CLASSES}")


def _background(rng, width, height):
    """Float RGB array (height, width, 3): random linear gradient plus smooth blotches."""
    c0 = rng.uniform(0, 255, size=3)
    c1 = rng.uniform(0, 255, size=3)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    proj = xs * math.cos(theta) + ys * math.sin(theta)
    t = (proj - proj.min()) / max(proj.max() - proj.min(), 1e-9)
    bg = c0 * (1.0 - t[..., None]) + c1 * t[..., None]
    # Smooth noise: a coarse random grid upsampled bicubically, per channel.
    coarse = rng.normal(0.0, 25.0, size=(4, 4, 3))
    for ch in range(3):
        grid = Image.fromarray(coarse[..., ch].astype(np.float32), mode="F")
        bg[..., ch] += np.asarray(grid.resize((width, height), Image.BICUBIC))
    return bg


def _random_colour(rng):
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _draw_clutter(rng, draw, width, height):
    """Distractors, all far smaller or thinner than any object."""
    k = min(width, height) / 128.0
    for _ in range(rng.integers(3, 8)):  # thin straight lines, 1 px wide
        x0, x1 = rng.uniform(0, width, size=2)
        y0, y1 = rng.uniform(0, height, size=2)
        draw.line([(x0, y0), (x1, y1)], fill=_random_colour(rng), width=1)
    for _ in range(rng.integers(10, 31)):  # small dots
        r = rng.uniform(1.0, 2.5) * k
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_random_colour(rng))
    for _ in range(rng.integers(1, 5)):  # small rectangle outlines, 1 px wide
        w, h = rng.uniform(4.0, 10.0, size=2) * k
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        draw.rectangle([x, y, x + w, y + h], outline=_random_colour(rng), width=1)


def _object_mask(label, cx, cy, diameter, angle, width, height):
    """Anti-aliased coverage mask (PIL "L", width x height) of the rotated object."""
    rot = np.array([[math.cos(angle), -math.sin(angle)],
                    [math.sin(angle), math.cos(angle)]])
    pts = _unit_polygon(label) @ rot.T * diameter + np.array([cx, cy])
    big = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 0)
    # Continuous coordinates (pixel i spans [i, i+1)) to the big image's pixel-centre
    # coordinates, which is what PIL's polygon filling uses.
    ImageDraw.Draw(big).polygon([tuple(p) for p in pts * SUPERSAMPLE - 0.5], fill=255)
    return big.resize((width, height), Image.BOX)


def _object_colour(rng, bg, mask):
    """A random colour far (in RGB) from the mean background under the object."""
    under = bg[np.asarray(mask) > 0].mean(axis=0)
    best, best_dist = None, -1.0
    for _ in range(50):
        colour = rng.integers(0, 256, size=3)
        dist = float(np.linalg.norm(colour - under))
        if dist > best_dist:
            best, best_dist = colour, dist
        if dist >= MIN_CONTRAST:
            break
    return tuple(int(v) for v in best)


def make_sample(rng, width=128, height=128, label=None):
    """Draw one image.

    rng: a numpy.random.Generator (the only source of randomness).
    label: class name to draw; None picks one uniformly at random.
    Returns (image: PIL RGB width x height, label: str, box: (x0, y0, x1, y1)) with
    the box in pixels, x1/y1 exclusive, tightly enclosing every pixel the object touches.
    """
    if label is None:
        label = CLASSES[int(rng.integers(len(CLASSES)))]
    elif label not in CLASSES:
        raise ValueError(f"unknown label {label!r}; expected one of {CLASSES}")

    bg = _background(rng, width, height)
    diameter = rng.uniform(MIN_SIZE, MAX_SIZE) * min(width, height)
    radius = diameter / 2 + BORDER
    cx = rng.uniform(radius, width - radius)
    cy = rng.uniform(radius, height - radius)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    mask = _object_mask(label, cx, cy, diameter, angle, width, height)
    colour = _object_colour(rng, bg, mask)

    image = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), mode="RGB")
    _draw_clutter(rng, ImageDraw.Draw(image), width, height)
    image = Image.composite(Image.new("RGB", (width, height), colour), image, mask)

    # Fine sensor-like noise over everything, object included.
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0.0, 6.0, size=(height, width, 3))
    image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="RGB")
    return image, label, mask.getbbox()


def generate(count, seed, width=128, height=128):
    """Yield (file_name, image, label, box) for images 0..count-1.

    Classes go round-robin (image i has class CLASSES[i % 5]) so every data set is
    balanced; everything else is random from numpy.random.default_rng(seed).
    """
    rng = np.random.default_rng(seed)
    for i in range(count):
        image, label, box = make_sample(rng, width, height, CLASSES[i % len(CLASSES)])
        yield f"{label}_{i}.png", image, label, box


def write_dataset(out_dir, count, seed, width=128, height=128):
    """Write out_dir/<label>_<i>.png and out_dir/boxes.csv; return the csv rows."""
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for name, image, label, box in generate(count, seed, width, height):
        image.save(os.path.join(out_dir, name))
        rows.append((name, label, *box))
    with open(os.path.join(out_dir, "boxes.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("file", "label", "x0", "y0", "x1", "y1"))
        writer.writerows(rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Generate the synthetic 'shapes' data set used by xai-serve's demo model. "
            "Each image holds exactly one filled object of class "
            + ", ".join(f"{c} (id {i})" for i, c in enumerate(CLASSES))
            + f", {MIN_SIZE:.0%}-{MAX_SIZE:.0%} of the shorter image side across "
            "(diameter of its circumscribed circle), randomly placed fully inside the "
            "image, randomly coloured and rotated, on a cluttered background (colour "
            "gradient, smooth noise, thin lines, small dots, small rectangle outlines). "
            "Classes go round-robin: image i has class i mod 5."),
        epilog=(
            "Output: OUT/<label>_<i>.png for i = 0..COUNT-1 (e.g. star_3.png) and "
            "OUT/boxes.csv with header 'file,label,x0,y0,x1,y1': file is the PNG's "
            "name, box is the tight pixel bounding box of the object in integers, "
            "x0,y0 inclusive and x1,y1 EXCLUSIVE (the object covers columns x0..x1-1 "
            "and rows y0..y1-1). The same --seed, --count, --width and --height always "
            "give identical files."),
    )
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--count", type=int, required=True, help="number of images to write")
    parser.add_argument("--seed", type=int, required=True,
                        help="seed for numpy.random.default_rng; fully determines the output")
    parser.add_argument("--width", type=int, default=128, help="image width in pixels (default 128)")
    parser.add_argument("--height", type=int, default=128, help="image height in pixels (default 128)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    if min(args.width, args.height) < 32:
        parser.error("--width and --height must be at least 32")

    write_dataset(args.out, args.count, args.seed, args.width, args.height)
    print(f"wrote {args.count} images and boxes.csv to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
