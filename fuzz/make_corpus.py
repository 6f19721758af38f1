"""Writes the fuzzers' seed corpora into fuzz/corpus/ (committed; rerun to remake them):
  image/    8x8 images in every decoded format, gray, RGBA and 16-bit
  config/   config.pbtxt texts, valid and not
  request/  serialized Classify, GradCAM and DecisionPath requests for the demo model
            (first byte: 0 Classify, 1 GradCAM, 2 DecisionPath; see request_fuzz.cc)
Files named regression-* are inputs the fuzzers found, kept as seeds: not made here.
Needs Debian's python3-opencv, python3-numpy and python3-protobuf, and the Python
client's stubs (client/python/generate_stubs.sh). Run with /usr/bin/python3."""

import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "client", "python"))
from xai_client._proto.xai.v1 import explainer_pb2  # noqa: E402


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, "corpus", folder), exist_ok=True)
    with open(os.path.join(HERE, "corpus", folder, name), "wb") as f:
        f.write(data)


def images():
    rng = np.random.default_rng(7)
    color = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    for ext in ("png", "jpg", "bmp", "webp", "tiff", "ppm"):
        ok, data = cv2.imencode("." + ext, color)
        assert ok
        write("image", "color." + ext, data.tobytes())
    write("image", "gray.png", cv2.imencode(".png", color[:, :, 0])[1].tobytes())
    rgba = np.dstack([color, np.full((8, 8), 128, np.uint8)])
    write("image", "rgba.png", cv2.imencode(".png", rgba)[1].tobytes())
    write("image", "deep.png", cv2.imencode(".png", color.astype(np.uint16) * 257)[1].tobytes())
    write("image", "lossy.webp", cv2.imencode(".webp", color, [cv2.IMWRITE_WEBP_QUALITY, 50])[1].tobytes())


def configs():
    with open(os.path.join(ROOT, "models", "shapes", "config.pbtxt"), "rb") as f:
        write("config", "shapes.pbtxt", f.read())
    write("config", "minimal.pbtxt", b"input { height: 16 width: 16 }\n")
    write("config", "batched.pbtxt",
          b'input { height: 224 width: 224 mean: [0.485, 0.456, 0.406] std: [0.229, 0.224, 0.225] '
          b'color_order: BGR resize: SHORTER_SIDE_CENTER_CROP }\n'
          b'instance_group { count: 2 devices: ["cpu", "cuda:0"] }\n'
          b'dynamic_batching { max_batch_size: 8 max_queue_delay_us: 2000 }\n'
          b'max_queue_size: 64 precision: FP16 default_cam_layer: "layer4"\n'
          b'default_path_layers: ["layer1", "layer2"]\n')
    write("config", "bad.pbtxt", b"input { height: -1 width: 0 std: [0] }\nname: \"../x\"\n")


def requests():
    with open(os.path.join(ROOT, "samples", "star_3.png"), "rb") as f:
        png = f.read()
    small = cv2.imencode(".png", cv2.resize(cv2.imdecode(np.frombuffer(png, np.uint8), 1), (16, 16)))[1]
    classify = explainer_pb2.ClassifyRequest(top_k=3)
    classify.model.name = "shapes"
    classify.image.encoded = small.tobytes()
    write("request", "classify", b"\x00" + classify.SerializeToString())
    tensor = explainer_pb2.ClassifyRequest()
    tensor.model.name = "shapes"
    tensor.image.tensor.shape.extend([3, 8, 8])  # not the model's size: refused, small
    tensor.image.tensor.data = np.zeros((3, 8, 8), np.float32).tobytes()
    write("request", "classify_tensor", b"\x00" + tensor.SerializeToString())
    cam = explainer_pb2.GradCAMRequest(method=explainer_pb2.GRAD_CAM_PLUS_PLUS)
    cam.model.name = "shapes"
    cam.image.encoded = small.tobytes()
    cam.target_classes.extend([0, 3])
    cam.layers.extend(["stage3", "stage4"])
    cam.overlay.enabled = True
    write("request", "gradcam", b"\x01" + cam.SerializeToString())
    path = explainer_pb2.DecisionPathRequest(target_class=3, threshold=0.5, max_channels=4)
    path.model.name = "shapes"
    path.image.encoded = small.tobytes()
    write("request", "decision_path", b"\x02" + path.SerializeToString())


if __name__ == "__main__":
    images()
    configs()
    requests()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(HERE, "corpus")) for f in fs)
    print(f"make_corpus: {total} bytes in fuzz/corpus")
