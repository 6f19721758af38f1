#!/usr/bin/python3
"""Builds a model repository for xai-bench beyond resnet18 (issue 27's CPU goals):
torchvision's densenet121 (torch.jit.script) and efficientnet_b0 (torch.jit.trace) with
random weights (seeded), at 224 x 224 with ImageNet's normalisation and 1000 classes.

Usage: /usr/bin/python3 tools/make_bench_models.py --out DIR

Writes
  DIR/densenet121/       scripted; CAM layer features.denseblock4 and the four dense blocks
                         for DecisionPath (DenseNet's forward applies an in-place ReLU to the
                         output of `features`, the usual choice, which gradients at that
                         output cannot survive: the engine refuses it)
  DIR/efficientnet_b0/   traced; CAM layer features (the last convolution's block)

Then, for instance:
  build/xai-bench --model-repository DIR --model densenet121 -n 25 --skip-throughput \\
    --intra-op-threads 1

Not part of the test command: the exports take a minute and the tests do not read them.
"""
import argparse
import os

import torch
import torchvision

CONFIG = """input {{ height: 224 width: 224 mean: [0.485, 0.456, 0.406] std: [0.229, 0.224, 0.225] }}
default_cam_layer: "{layer}"
{path_layers}instance_group {{ count: 1 devices: ["cpu"] }}
"""


def save(out, name, module, layer, path_layers=None):
    os.makedirs(os.path.join(out, name, "1"), exist_ok=True)
    module.save(os.path.join(out, name, "1", "model.pt"))
    with open(os.path.join(out, name, "config.pbtxt"), "w") as f:
        layers = ("default_path_layers: [%s]\n" % ", ".join('"%s"' % l for l in path_layers)
                  if path_layers else "")
        f.write(CONFIG.format(layer=layer, path_layers=layers))
    print("make_bench_models: %s (%s)" % (os.path.join(out, name), layer))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the repository to write")
    args = parser.parse_args()
    torch.manual_seed(27)
    densenet = torchvision.models.densenet121(weights=None).eval()
    # DecisionPath's defaults would include `features`, whose output the in-place ReLU changes.
    save(args.out, "densenet121", torch.jit.script(densenet), "features.denseblock4",
         ["features.denseblock%d" % b for b in range(1, 5)])
    efficientnet = torchvision.models.efficientnet_b0(weights=None).eval()
    with torch.no_grad():
        traced = torch.jit.trace(efficientnet, torch.randn(1, 3, 224, 224))
    save(args.out, "efficientnet_b0", traced, "features")


if __name__ == "__main__":
    main()
