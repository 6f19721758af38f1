#!/usr/bin/python3
"""How far XRAI's segmentation (OpenCV's ximgproc GraphSegmentation, as the server runs it)
is from the reference implementation's (skimage.segmentation.felzenszwalb, which Google
PAIR's saliency library calls), per scale, on one image: the segment counts and the adjusted
Rand index of the two labelings (1: the same partition; 0: chance).

Needs python3-opencv and python3-skimage (Debian's; the install script does not install
the latter: this is a measurement, not a test).
Usage: /usr/bin/python3 tools/xrai_segmentation_compare.py IMAGE
"""
import argparse
from collections import Counter

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

SCALES = (50, 100, 150, 250, 500, 1200)


def pairs(counts):
    return sum(c * (c - 1) / 2 for c in counts)


def adjusted_rand_index(a, b):
    n = a.size
    joint = pairs(Counter(zip(a.ravel(), b.ravel())).values())
    left, right = pairs(Counter(a.ravel()).values()), pairs(Counter(b.ravel()).values())
    expected = left * right / (n * (n - 1) / 2)
    return (joint - expected) / ((left + right) / 2 - expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    args = parser.parse_args()
    rgb = cv2.imread(args.image)[:, :, ::-1].astype(np.float64) / 255
    rgb = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_CUBIC)
    unit = (rgb - rgb.min()) / (rgb.max() - rgb.min()) * 2 - 1  # the reference's [-1, 1]
    print("| scale | skimage segments | OpenCV segments | adjusted Rand index |")
    print("| --- | --- | --- | --- |")
    for scale in SCALES:
        reference = felzenszwalb(unit, scale=scale, sigma=0.8, min_size=150)
        ours = cv2.ximgproc.segmentation.createGraphSegmentation(0.8, scale, 150).processImage(
            (unit * 255).astype(np.float32))
        print("| %d | %d | %d | %.3f |" % (scale, reference.max() + 1, ours.max() + 1,
                                          adjusted_rand_index(reference, ours)))


if __name__ == "__main__":
    main()
