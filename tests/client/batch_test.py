"""`xai batch` against real xai-servers on the bundled demo model: the end-to-end run of
issue 28 (300 images, 3 shards as 3 processes, 2 servers, one server killed and restarted
in the middle, one shard's client killed and rerun: every image exactly once OK across the
shards' indexes, every file complete), then resume, per-image options, bad input, an
output that cannot be written, the shard's lock and the usage errors.

  /usr/bin/python3 batch_test.py XAI_SERVER XAI_CLI MODEL_REPOSITORY
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
from PIL import Image

SERVER, CLI, REPO = sys.argv[1:4]
MODEL = "shapes"
SCRATCH = tempfile.mkdtemp(prefix="xai_batch_test_")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """xai-server on a fixed port, so that a restart comes back at the same address."""

    def __init__(self, name):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = os.path.join(SCRATCH, f"{name}.log")
        self.process = None

    def start(self):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [SERVER, "--model-repository", REPO, "--address", self.address,
                 "--metrics-address", "", "--http-address", "", "--intra-op-threads", "1"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            result = subprocess.run([CLI, "--server", self.address, "--timeout", "2", "health"],
                                    capture_output=True, text=True)
            if result.returncode == 0:
                return
            if self.process.poll() is not None:
                raise RuntimeError("xai-server exited:\n" + open(self.log).read())
            time.sleep(0.1)
        raise RuntimeError("xai-server did not become healthy:\n" + open(self.log).read())

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def make_images(folder, n, seed=0):
    """`n` PNG and JPEG images of random shapes' colours in a nested tree."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = os.path.join(folder, f"part{i % 3}", f"group{i % 7}")
        os.makedirs(sub, exist_ok=True)
        pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        ext = "png" if i % 2 else "jpg"
        Image.fromarray(pixels).save(os.path.join(sub, f"image{i:04d}.{ext}"))


def batch(*args, env=None, check=None):
    """Runs `xai --json batch ARGS`; returns (exit status, summary or None, stderr)."""
    result = subprocess.run([CLI, "--json", "--timeout", "60", "batch", *args],
                            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    summary = None
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        pass
    if check is not None and result.returncode != check:
        raise AssertionError(f"xai batch {' '.join(args)}: exit {result.returncode}, "
                             f"expected {check}\n{result.stdout}\n{result.stderr}")
    return result.returncode, summary, result.stderr


def index_lines(out):
    """Every complete line of every shard index in `out`, with its file's name."""
    lines = []
    for name in sorted(os.listdir(out)):
        if name.startswith("index.shard-") and name.endswith(".jsonl"):
            with open(os.path.join(out, name)) as f:
                for text in f.read().split("\n")[:-1]:
                    lines.append((name, json.loads(text)))
    return lines


def fnv_shard(key, shards):
    """The shard docs/CLI.md promises: FNV-1a (64 bits) of the key, modulo N."""
    h = 1469598103934665603
    for byte in key.encode():
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % shards


def check_file(path):
    """Raises unless `path` is a complete .npy, PNG or JSON file."""
    if path.endswith(".npy"):
        array = np.load(path)
        assert array.dtype == np.float32 and array.size > 0, path
    elif path.endswith(".png"):
        with Image.open(path) as image:
            image.load()
    elif path.endswith(".json"):
        with open(path) as f:
            json.load(f)
    else:
        raise AssertionError(f"unexpected output {path}")


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Server("a")
        cls.b = Server("b")
        cls.a.start()
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b):
            if s.process and s.process.poll() is None:
                s.kill()

    def scratch(self, name):
        path = os.path.join(SCRATCH, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    def test_sharded_run_with_a_server_and_a_client_killed(self):
        work = self.scratch("e2e")
        images = os.path.join(work, "images")
        out = os.path.join(work, "out")
        make_images(images, 300)
        # --metrics makes each image cost tens of forwards: the run lasts long enough for
        # the kills to land in its middle.
        common = [MODEL, images, "--out", out, "--concurrency", "2", "--metrics",
                  "--metrics-steps", "8", "--server", self.a.address, "--server",
                  self.b.address, "--retries", "20", "--max-backoff", "1"]

        def start(shard):
            return subprocess.Popen([CLI, "--json", "--timeout", "60", "batch", "gradcam",
                                     *common, "--shard", f"{shard}/3"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        started = time.time()
        clients = [start(i) for i in range(3)]

        def done(shard=None):
            if not os.path.isdir(out):
                return 0
            return sum(1 for name, _ in index_lines(out)
                       if shard is None or name == f"index.shard-0000{shard}-of-00003.jsonl")

        def wait_for(lines, shard=None, limit=120):
            deadline = time.time() + limit
            while done(shard) < lines:
                self.assertLess(time.time(), deadline, f"only {done(shard)} lines")
                time.sleep(0.01)

        # Shard 2's client killed mid-run, once it has recorded some images (its lines
        # reach the index every second).
        wait_for(10, shard=2)
        clients[2].send_signal(signal.SIGKILL)
        clients[2].communicate()
        killed_at = done()
        wait_for(killed_at + 30)
        # Server a killed in the middle, and restarted at the same address.
        self.a.kill()
        server_killed = time.time()
        time.sleep(1)
        self.a.start()
        restarted = time.time()
        # Shard 2 rerun.
        clients[2] = start(2)
        summaries = []
        for c in clients:
            stdout, stderr = c.communicate(timeout=600)
            self.assertEqual(c.returncode, 0, stdout + stderr)
            summaries.append(json.loads(stdout))
        seconds = time.time() - started
        self.assertEqual(sum(s["images"] for s in summaries), 300)
        # The rerun of shard 2 skipped what its killed run recorded.
        self.assertGreater(summaries[2]["skipped"], 0, summaries[2])
        self.assertEqual(summaries[2]["skipped"] + summaries[2]["ok"], summaries[2]["images"])

        # Exactly once: one OK line per image across the shards' indexes, in its shard's file.
        lines = index_lines(out)
        ok = {}
        for name, line in lines:
            if line["status"] == "OK":
                self.assertNotIn(line["input"], ok, f"{line['input']} OK twice")
                ok[line["input"]] = (name, line)
        expected = {os.path.relpath(os.path.join(d, f), images).replace(os.sep, "/")
                    for d, _, files in os.walk(images) for f in files}
        self.assertEqual(set(ok), expected)
        # Every file of every line is there, complete; nothing half-written is left.
        for name, line in ok.values():
            self.assertEqual(line["shard"], f"{fnv_shard(line['input'], 3)}/3")
            self.assertEqual(name, f"index.shard-0000{line['shard'][0]}-of-00003.jsonl")
            self.assertEqual(len(line["files"]), 3)
            for f in line["files"]:
                check_file(os.path.join(out, f))
            self.assertIsNotNone(line["explanations"][0]["metrics"])
        partial = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files
                   if f.endswith(".partial")]
        self.assertEqual(partial, [])
        # Both servers served, and the restarted one again after its restart.
        # The kill was in the middle: images were explained after it.
        after = [line for _, line in ok.values()
                 if time.mktime(time.strptime(line["finished"][:19], "%Y-%m-%dT%H:%M:%S"))
                 - time.timezone > server_killed]
        self.assertGreater(len(after), 30)
        servers = {line["server"] for _, line in ok.values()}
        self.assertEqual(servers, {self.a.address, self.b.address})
        retried = sum(1 for _, line in ok.values() if line["attempts"] > 1)
        merged = subprocess.run([CLI, "--json", "batch", "merge", out], capture_output=True,
                                text=True)
        self.assertEqual(merged.returncode, 0, merged.stdout + merged.stderr)
        self.assertEqual(json.loads(merged.stdout)["ok"], 300)
        with open(os.path.join(out, "index.jsonl")) as f:
            self.assertEqual(len(f.read().splitlines()), 300)
        print(f"e2e: 300 images, 3 shards, 2 servers in {seconds:.1f} s; server a killed "
              f"{server_killed - started:.1f} s in, back {restarted - started:.1f} s in; "
              f"shard 2's client killed after {killed_at} lines; {retried} images retried, "
              f"{len(after)} explained after the server's kill",
              flush=True)

    def test_rerun_skips_what_is_done_and_redoes_what_changed(self):
        work = self.scratch("resume")
        images = os.path.join(work, "images")
        out = os.path.join(work, "out")
        make_images(images, 12, seed=1)
        args = ["classify", MODEL, images, "--out", out, "--server", self.b.address]
        _, first, _ = batch(*args, check=0)
        self.assertEqual((first["ok"], first["skipped"]), (12, 0))
        _, second, _ = batch(*args, check=0)
        self.assertEqual((second["ok"], second["skipped"]), (0, 12))
        # Another request (top-k) is another fingerprint; so is an image's new content.
        _, third, _ = batch(*args, "--top-k", "2", check=0)
        self.assertEqual(third["ok"], 12)
        Image.new("RGB", (64, 64), "white").save(
            os.path.join(images, "part1", "group1", "image0001.png"))
        _, fourth, _ = batch(*args, "--top-k", "2", check=0)
        self.assertEqual((fourth["ok"], fourth["skipped"]), (1, 11))
        # The index keeps one line per image: the reruns' lines replaced the earlier ones.
        lines = index_lines(out)
        self.assertEqual(len(lines), 12 + 1)
        with open(os.path.join(out, "index.shard-00000-of-00001.jsonl")) as f:
            compacted = [json.loads(t) for t in f.read().splitlines()]
        batch(*args, "--top-k", "2", check=0)
        with open(os.path.join(out, "index.shard-00000-of-00001.jsonl")) as f:
            self.assertEqual(len(f.read().splitlines()), 12)
        self.assertTrue(all(len(line["classes"]) == 2 for line in compacted[-12:]))

    def test_bad_input_is_a_line_and_the_job_goes_on(self):
        work = self.scratch("bad")
        images = os.path.join(work, "images")
        make_images(images, 3, seed=2)
        good = sorted(os.path.relpath(os.path.join(d, f), work)
                      for d, _, files in os.walk(images) for f in files)
        with open(os.path.join(work, "not_an_image.png"), "w") as f:
            f.write("text, not pixels")
        Image.new("RGB", (8000, 8000)).save(os.path.join(work, "huge.png"))
        jsonl = os.path.join(work, "job.jsonl")
        with open(jsonl, "w") as f:
            f.write(json.dumps({"image": good[0], "targets": ["star", 1]}) + "\n")
            f.write(json.dumps({"image": good[0], "id": "again", "method": "score_cam",
                                "layers": ["stage3"]}) + "\n")
            f.write(json.dumps({"image": good[1], "targets": ["no such class"]}) + "\n")
            f.write(json.dumps({"image": "missing.png"}) + "\n")
            f.write(json.dumps({"image": "not_an_image.png"}) + "\n")
            f.write(json.dumps({"image": "huge.png"}) + "\n")
            f.write(json.dumps({"image": good[2], "colour": "red"}) + "\n")
            f.write("{not json\n")
        out = os.path.join(work, "out")
        code, summary, stderr = batch("gradcam", MODEL, jsonl, "--out", out, "--server",
                                      self.b.address, "--no-overlay")
        self.assertEqual(code, 1, stderr)
        self.assertEqual((summary["ok"], summary["failed"]), (2, 6), summary)
        by_input = {line["input"]: line for _, line in index_lines(out)}
        self.assertEqual(by_input[good[0].replace(os.sep, "/")]["targets"], [3, 1])
        again = by_input["again"]
        self.assertEqual(again["layers"], ["stage3"])
        self.assertTrue(all("score_cam_stage3" in f for f in again["files"]))
        self.assertIn("no class of model shapes is labelled so",
                      by_input[good[1].replace(os.sep, "/")]["error"])
        self.assertEqual(by_input["missing.png"]["status"], "NOT_FOUND")
        self.assertEqual(by_input["not_an_image.png"]["status"], "INVALID_ARGUMENT")
        self.assertIn("not a PNG, JPEG", by_input["not_an_image.png"]["error"])
        self.assertEqual(by_input["huge.png"]["status"], "INVALID_ARGUMENT")
        self.assertIn("unknown key \"colour\"", by_input["job.jsonl:7"]["error"])
        self.assertIn("not a JSON object", by_input["job.jsonl:8"]["error"])
        for line in by_input.values():
            self.assertEqual(line["status"] == "OK", line["error"] == "", line)

    def test_an_output_that_cannot_be_written_stops_the_job(self):
        work = self.scratch("unwritable")
        images = os.path.join(work, "images")
        make_images(images, 6, seed=3)
        out = os.path.join(work, "out")
        os.makedirs(out)
        # part1's output folder is a file: its images cannot be written.
        open(os.path.join(out, "part1"), "w").close()
        code, summary, stderr = batch("gradcam", MODEL, images, "--out", out, "--server",
                                      self.b.address, "--concurrency", "1")
        self.assertEqual(code, 1)
        self.assertIn("stopped: cannot create", stderr)
        self.assertIn("part1", summary["stopped"])
        self.assertGreater(summary["not_done"], 0)
        for _, line in index_lines(out):
            self.assertFalse(line["input"].startswith("part1/"), line)
        partial = [f for d, _, files in os.walk(out) for f in files if f.endswith(".partial")]
        self.assertEqual(partial, [])

    def test_names_outputs_and_stale_lines(self):
        work = self.scratch("names")
        images = os.path.join(work, "images")
        make_images(images, 2, seed=6)
        long_name = "L" * 230 + ".png"
        odd_name = b"caf\xe9.png"
        for name in (long_name, os.fsencode(images) + b"/" + odd_name):
            target = name if isinstance(name, bytes) else os.path.join(images, name)
            with open(target, "wb") as f:
                Image.new("RGB", (64, 64), "red").save(f, format="PNG")
        # --out is INPUT itself: refused; an --out inside INPUT is never read as input.
        code, _, stderr = batch("classify", MODEL, images, "--out", images, "--server",
                                self.b.address)
        self.assertEqual(code, 2, stderr)
        self.assertIn("is INPUT itself", stderr)
        inner = os.path.join(images, "cams")
        _, first, _ = batch("gradcam", MODEL, images, "--out", inner, "--server",
                            self.b.address, check=0)
        self.assertEqual(first["images"], 4)
        out = os.path.join(work, "out")
        _, second, _ = batch("gradcam", MODEL, images, "--out", out, "--server",
                             self.b.address, check=0)
        self.assertEqual((second["images"], second["ok"]), (4, 4))
        by_input = {line["input"]: line for _, line in index_lines(out)}
        # A name too long for the suffixes keeps its start and gets a hash; bytes that are
        # not UTF-8 are %XX in the key and the files' names.
        self.assertIn("caf%E9.png", by_input)
        long_line = by_input[long_name]
        self.assertTrue(all(len(os.path.basename(f)) < 255 and "~" in f
                            for f in long_line["files"]))
        for line in by_input.values():
            for f in line["files"]:
                check_file(os.path.join(out, f))
        _, third, _ = batch("gradcam", MODEL, images, "--out", out, "--server",
                            self.b.address, check=0)
        self.assertEqual(third["skipped"], 4)
        # A list line that failed, then fixed: its failed line goes, merge is clean.
        listing = os.path.join(work, "list.txt")
        with open(listing, "w") as f:
            f.write("images/part0/group0/image0000.jpg\nimages/missing.png\n")
        listed = os.path.join(work, "listed")
        code, summary, _ = batch("classify", MODEL, listing, "--out", listed, "--server",
                                 self.b.address)
        self.assertEqual((code, summary["failed"]), (1, 1))
        with open(listing, "w") as f:
            f.write("images/part0/group0/image0000.jpg\n")
        batch("classify", MODEL, listing, "--out", listed, "--server", self.b.address, check=0)
        merged = subprocess.run([CLI, "batch", "merge", listed], capture_output=True, text=True)
        self.assertEqual(merged.returncode, 0, merged.stdout + merged.stderr)
        self.assertIn("1 inputs from 1 shard indexes: 1 OK, 0 not OK", merged.stdout)

    def test_one_process_per_shard(self):
        work = self.scratch("lock")
        images = os.path.join(work, "images")
        make_images(images, 2, seed=4)
        out = os.path.join(work, "out")
        os.makedirs(out)
        with open(os.path.join(out, "index.shard-00001-of-00002.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            code, _, stderr = batch("classify", MODEL, images, "--out", out, "--shard", "1/2",
                                    "--server", self.b.address)
            self.assertEqual(code, 1)
            self.assertIn("another xai batch is writing shard 1/2", stderr)
            # A run of another shard count into the same --out would write the same files.
            code, _, stderr = batch("classify", MODEL, images, "--out", out, "--shard", "0/3",
                                    "--server", self.b.address)
            self.assertEqual(code, 1)
            self.assertIn("a run of 2 shards is writing into", stderr)
        # Kubernetes' Indexed Job: the shard from the environment.
        env = dict(os.environ, JOB_COMPLETION_INDEX="1", XAI_BATCH_SHARDS="2")
        _, summary, _ = batch("classify", MODEL, images, "--out", out, "--server",
                              self.b.address, env=env)
        self.assertEqual(summary["shard"], "1/2")
        self.assertTrue(os.path.exists(os.path.join(out, "index.shard-00001-of-00002.jsonl")))

    def test_usage_errors(self):
        work = self.scratch("usage")
        images = os.path.join(work, "images")
        make_images(images, 1, seed=5)
        out = os.path.join(work, "out")
        for args, message in [
            (["--shard", "3/3"], "must be I/N with 0 <= I < N"),
            (["--target", "no such class"], "no class of model shapes is labelled so"),
        ]:
            code, _, stderr = batch("gradcam", MODEL, images, "--out", out, "--server",
                                    self.b.address, *args)
            self.assertEqual(code, 2, stderr)
            self.assertIn(message, stderr)
        env = dict(os.environ, JOB_COMPLETION_INDEX="0")
        env.pop("XAI_BATCH_SHARDS", None)
        code, _, stderr = batch("classify", MODEL, images, "--out", out, env=env)
        self.assertEqual(code, 2)
        self.assertIn("XAI_BATCH_SHARDS is not", stderr)
        code, _, stderr = batch("classify", "no_such_model", images, "--out", out, "--server",
                                self.b.address)
        self.assertEqual(code, 1)
        self.assertIn("model no_such_model: NOT_FOUND", stderr)


if __name__ == "__main__":
    try:
        unittest.main(argv=sys.argv[:1], verbosity=2)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
