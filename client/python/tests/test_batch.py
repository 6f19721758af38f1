"""xai_client.batch against a real xai-server: a data set explained into files and an
index, resumed, sharded as the CLI shards, bad input recorded, one process per shard."""

import fcntl
import json
import os
import shutil

import numpy as np
import PIL.Image
import pytest

from xai_client import batch
from xai_client.batch import looks_like_image, shard_of


def make_images(folder, samples):
    """The sample images in two folders, a text file beside them."""
    os.makedirs(os.path.join(folder, "more"))
    names = sorted(f for f in os.listdir(samples) if f.endswith(".png"))[:6]
    for i, name in enumerate(names):
        shutil.copy(os.path.join(samples, name),
                    os.path.join(folder, "more" if i % 2 else "", name))
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image")
    return len(names)


def index_lines(out):
    lines = []
    for name in sorted(os.listdir(out)):
        if name.startswith("index.shard-") and name.endswith(".jsonl"):
            with open(os.path.join(out, name)) as f:
                lines += [json.loads(t) for t in f.read().splitlines()]
    return lines


def test_the_shard_hash_is_the_clis():
    # FNV-1a of the relative path, as tests/client/batch_test.py checks of `xai batch`.
    assert [shard_of("part0/group0/image0000.jpg", n) for n in (2, 3, 7, 1000)] == [1, 0, 3, 553]
    assert [shard_of("a/b.png", n) for n in (2, 3, 7, 1000)] == [0, 2, 1, 442]
    assert looks_like_image(b"\x89PNG\r\n\x1a\n....") and not looks_like_image(b"not an image")


def test_a_directory_is_explained_once_and_a_rerun_skips_it(client, samples, tmp_path):
    images, out = str(tmp_path / "images"), str(tmp_path / "out")
    n = make_images(images, samples)
    first = batch(client, "shapes", images, out, rpc="gradcam", concurrency=3, overlay=True,
                  layers=["stage4"])
    assert (first.images, first.ok, first.skipped, first.failed) == (n, n, 0, 0)
    lines = index_lines(out)
    assert len(lines) == n and all(line["status"] == "OK" for line in lines)
    for line in lines:
        assert len(line["files"]) == 3
        cam = np.load(os.path.join(out, line["files"][0]))
        assert cam.dtype == np.float32 and cam.shape == (64, 64) and cam.max() <= 1
        assert "grad_cam_stage4_class" in line["files"][0]
        with PIL.Image.open(os.path.join(out, line["files"][2])) as overlay:
            overlay.load()
    assert any(line["input"].startswith("more/") for line in lines)
    again = batch(client, "shapes", images, out, rpc="gradcam", concurrency=3, overlay=True,
                  layers=["stage4"])
    assert (again.ok, again.skipped) == (0, n)
    # Another request is another fingerprint.
    other = batch(client, "shapes", images, out, rpc="classify", top_k=2)
    assert other.ok == n
    assert all(len(line["classes"]) == 2 for line in index_lines(out)[-n:])


def test_shards_split_the_images_and_bad_ones_are_lines(client, samples, tmp_path):
    images, out = str(tmp_path / "images"), str(tmp_path / "out")
    n = make_images(images, samples)
    with open(os.path.join(images, "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n but no pixels")
    summaries = [batch(client, "shapes", images, out, rpc="classify", shard=(i, 2))
                 for i in range(2)]
    assert sum(s.images for s in summaries) == n + 1
    assert sum(s.failed for s in summaries) == 1
    lines = index_lines(out)
    assert sorted(line["input"] for line in lines) == sorted({line["input"] for line in lines})
    broken = [line for line in lines if line["input"] == "broken.png"][0]
    assert broken["status"] == "INVALID_ARGUMENT" and broken["error"]
    for line in lines:
        assert line["shard"] == f"{shard_of(line['input'], 2)}/2"


def test_one_process_per_shard_and_bad_arguments(client, samples, tmp_path):
    images, out = str(tmp_path / "images"), str(tmp_path / "out")
    make_images(images, samples)
    os.makedirs(out)
    with open(os.path.join(out, "index.shard-00000-of-00001.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another batch is writing shard 0/1"):
            batch(client, "shapes", images, out, rpc="classify")
    with pytest.raises(ValueError, match="rpc"):
        batch(client, "shapes", images, out, rpc="explain")
    with pytest.raises(ValueError, match="shard"):
        batch(client, "shapes", images, out, shard=(2, 2))
