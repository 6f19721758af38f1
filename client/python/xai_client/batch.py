"""Explain a whole data set from Python with the resume semantics of ``xai batch``
(docs/CLI.md): every image's arrays written under its relative path (``.npy`` and PNG,
each written as ``NAME.partial`` and renamed), then one JSON line per image appended to the
shard's index ``OUT/index.shard-IIIII-of-NNNNN.jsonl``; a rerun skips each image whose
last line is OK with the same fingerprint (the call's options and the image's SHA-256), so
a killed run loses and repeats nothing. Shards are FNV-1a hashes of the relative path, as
the CLI's: ``xai batch merge OUT`` joins what either wrote.

    from xai_client import XaiClient, batch
    with XaiClient("localhost:50051") as xai:
        summary = batch(xai, "shapes", "images/", "cams", rpc="gradcam", overlay=True)
        print(summary.ok, summary.skipped, summary.failed)
"""

import datetime
import fcntl
import hashlib
import io
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union

import numpy as np

from xai_client.errors import XaiError

RPCS = ("classify", "gradcam", "attribute", "path")
# In every output directory, as the CLI's: a directory holding it is never read as input.
OUTPUT_MARKER = ".xai-batch-output"

_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF87a", b"GIF89a", b"II*\x00",
          b"MM\x00*", b"\x00\x00\x00\x0cjP  ")


def looks_like_image(head: bytes) -> bool:
    """Whether a file's first bytes are an image's (the formats the server decodes)."""
    if head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return True
    return len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and \
        head[2:3] in b" \t\r\n"


def shard_of(key: str, shards: int) -> int:
    """The shard of an image's key (its relative path): FNV-1a, 64 bits, as ``xai batch``."""
    h = 1469598103934665603
    for byte in key.encode():
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % shards


def index_name(shard: int, shards: int) -> str:
    return f"index.shard-{shard:05d}-of-{shards:05d}.jsonl"


@dataclass(frozen=True)
class BatchSummary:
    images: int  # in this shard
    ok: int  # explained now
    skipped: int  # OK in an earlier run of the same request
    failed: int  # their lines say why
    seconds: float
    index: str  # this shard's index file


def _key(path: str) -> str:
    parts = []
    for part in os.path.normpath(path).replace(os.sep, "/").split("/"):
        if part in ("", "."):
            continue
        parts.append("__" if part == ".." else part)
    return "/".join(parts)


def _inputs(images: Union[str, Iterable[str]], root: Optional[str], out: str
            ) -> List[Tuple[str, str]]:
    """(key, path) of each image, sorted by key."""
    if isinstance(images, str) and os.path.isdir(images):
        out_real = os.path.realpath(out)
        found = []
        for folder, dirs, files in os.walk(images):
            dirs[:] = sorted(d for d in dirs
                             if os.path.realpath(os.path.join(folder, d)) != out_real and
                             not os.path.exists(os.path.join(folder, d, OUTPUT_MARKER)))
            for name in files:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as f:
                        if not looks_like_image(f.read(16)):
                            continue
                except OSError:
                    pass  # listed: its read fails on the index
                found.append((_key(os.path.relpath(path, images)), path))
        return sorted(found)
    if isinstance(images, str):
        raise ValueError(f"images: {images} is not a directory (give a directory or paths)")
    base = root or os.getcwd()
    pairs = {}
    for path in images:
        key = _key(os.path.relpath(path, base) if os.path.isabs(path) and root else path)
        if key in pairs:
            raise ValueError(f"images: {path} is given twice")
        pairs[key] = path
    return sorted(pairs.items())


def _lines(path: str) -> List[dict]:
    """Complete, readable lines of an index file, last per input, in first-seen order."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    last = {}
    for line in text.split("\n")[:-1]:  # a last line without '\n' was cut by a kill
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("input"), str):
            last[value["input"]] = value
    return list(last.values())


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    partial = path + ".partial"
    try:
        with open(partial, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # on the disk before its index line can be
        os.replace(partial, path)
    except BaseException:
        try:
            os.remove(partial)
        except OSError:
            pass
        raise


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32))
    return buffer.getvalue()


def _utc_now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _classes(classes) -> list:
    return [{"index": c.index, "label": c.label, "probability": c.probability,
             "logit": c.logit} for c in classes]


def batch(client, model: str, images: Union[str, Iterable[str]], out: str, *,
          rpc: str = "gradcam", shard: Tuple[int, int] = (0, 1), concurrency: int = 4,
          version: int = 0, root: Optional[str] = None, **options) -> BatchSummary:
    """Explains every image of ``images`` (a directory, searched recursively for image
    files by their header, or an iterable of paths; their keys: the path relative to the
    directory, or as given, relative to ``root`` when absolute) that falls in ``shard``
    (I, N), ``concurrency`` calls at a time through ``client`` (an ``XaiClient``, which
    retries UNAVAILABLE and RESOURCE_EXHAUSTED itself). ``rpc``: classify, gradcam,
    attribute or path, and ``options`` go to the client's method of that name
    (``decision_path`` for path). An image that fails (unreadable, refused by the server)
    is a line with its status and message; an output that cannot be written raises
    ``OSError`` after the calls in flight end, with nothing half-written."""
    if rpc not in RPCS:
        raise ValueError(f"rpc: one of {', '.join(RPCS)}, not {rpc!r}")
    index_of, shards = shard
    if not 0 <= index_of < shards:
        raise ValueError(f"shard: (I, N) with 0 <= I < N, not {shard}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    call = getattr(client, "decision_path" if rpc == "path" else rpc)
    if rpc == "path":
        options.setdefault("render", True)
    started = time.monotonic()
    if isinstance(images, str) and os.path.isdir(images) and os.path.isdir(out) and \
            os.path.samefile(images, out):
        raise ValueError(f"out: {out} is the images' directory itself; give another")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, OUTPUT_MARKER), "w") as marker:
        marker.write("xai batch writes here: its files, its indexes; never read as input\n")
    name = index_name(index_of, shards)
    index_path = os.path.join(out, name)
    lock = open(os.path.join(out, name[:-len(".jsonl")] + ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RuntimeError(f"another batch is writing shard {index_of}/{shards} into {out}")
    try:
        done = {}
        own = []
        for file in sorted(os.listdir(out)):
            if file.startswith("index.shard-") and file.endswith(".jsonl"):
                lines = _lines(os.path.join(out, file))
                for line in lines:
                    if line.get("status") == "OK" and isinstance(line.get("fingerprint"), str):
                        done.setdefault(line["input"], set()).add(line["fingerprint"])
                if file == name:
                    own = lines
        items = [(k, p) for k, p in _inputs(images, root, out) if shard_of(k, shards) == index_of]
        keys = {k for k, _ in items}
        # Failed lines of inputs no longer given go; OK lines stay with their files.
        own = [line for line in own if line.get("status") == "OK" or line["input"] in keys]
        _write(index_path, "".join(json.dumps(line) + "\n" for line in own).encode())
        request = json.dumps({"rpc": rpc, "model": model, "version": version,
                              "options": options}, sort_keys=True, default=repr)
        what = _what(rpc, options)
        counts = {"ok": 0, "skipped": 0, "failed": 0}
        mutex = threading.Lock()
        stopped: List[BaseException] = []
        index_file = open(index_path, "a")

        def one(key: str, path: str) -> None:
            if stopped:
                return
            t0 = time.monotonic()
            line = {"input": key, "file": path, "rpc": rpc, "shard": f"{index_of}/{shards}"}
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                line.update(status="NOT_FOUND" if isinstance(e, FileNotFoundError)
                            else "PERMISSION_DENIED" if isinstance(e, PermissionError)
                            else "UNKNOWN", error=f"cannot read {path}: {e.strerror}")
                data = None
            if data is not None:
                sha = hashlib.sha256(data).hexdigest()
                fingerprint = hashlib.sha256(
                    f"xai-batch-python/1\n{request}\n{sha}".encode()).hexdigest()
                line.update(sha256=sha, fingerprint=fingerprint)
                if fingerprint in done.get(key, ()):
                    with mutex:
                        counts["skipped"] += 1
                    return
                try:
                    result = call(model, data, version=version, **options)
                except XaiError as e:
                    line.update(status=e.code.name, error=e.message, request_id=e.request_id,
                                attempts=e.attempts)
                else:
                    files = _answer(rpc, key, what, result, line)
                    try:
                        for relative, payload in files:
                            _write(os.path.join(out, relative), payload)
                    except OSError as e:
                        stopped.append(e)
                        return
                    line.update(status="OK", error="", files=[r for r, _ in files],
                                request_id=result.request_id)
            line.update(seconds=time.monotonic() - t0, finished=_utc_now())
            with mutex:
                if stopped:
                    return
                try:
                    index_file.write(json.dumps(line) + "\n")
                    index_file.flush()
                    os.fsync(index_file.fileno())
                except OSError as e:
                    stopped.append(e)
                    return
                counts["ok" if line["status"] == "OK" else "failed"] += 1

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(one, k, p) for k, p in items]:
                future.result()
        index_file.close()
        if stopped:
            raise stopped[0]
        return BatchSummary(len(items), counts["ok"], counts["skipped"], counts["failed"],
                            time.monotonic() - started, index_path)
    finally:
        lock.close()


def _what(rpc: str, options: dict) -> str:
    """What the file names say besides the image and the target, as the CLI's do: the
    method (and its smoothing) and, for gradcam, the layers ("default_layer": the model's)."""
    if rpc == "gradcam":
        what = str(options.get("method", "GRAD_CAM")).lower()
        what += "+eigen_smooth" if options.get("eigen_smooth") else ""
        what += "+aug_smooth" if options.get("aug_smooth") else ""
        what += "_" + ("+".join(options.get("layers", ())) or "default_layer")
    else:
        what = str(options.get("method", "INTEGRATED_GRADIENTS")).lower()
    return "".join(c if c.isalnum() or c in ".+-_" else "_" for c in what)


def _answer(rpc: str, key: str, what: str, result, line: dict) -> List[Tuple[str, bytes]]:
    """Fills the line from the answer; returns the image's files (relative paths, bytes)."""
    line["model"] = {"name": result.model, "version": result.version}
    line["classes"] = _classes(result.classes)
    files = []
    if rpc == "gradcam":
        line["targets"] = [e.target_class for e in result.explanations]
        for e in result.explanations:
            base = f"{key}_{what}_class{e.target_class}"
            files += [(base + "_cam.npy", _npy(e.cam)), (base + "_raw.npy", _npy(e.raw))]
            if e.overlay_png:
                files.append((base + "_overlay.png", e.overlay_png))
    elif rpc == "attribute":
        line["targets"] = [a.target_class for a in result.attributions]
        for a in result.attributions:
            base = f"{key}_{what}_class{a.target_class}"
            files += [(base + "_attribution.npy", _npy(a.attribution)),
                      (base + "_map.npy", _npy(a.map))]
            if a.overlay_png:
                files.append((base + "_overlay.png", a.overlay_png))
    elif rpc == "path":
        line["targets"] = [result.target_class]
        line["path"] = {"layers": result.layers,
                        "chains": [{"channels": c.channels, "log_score": c.log_score}
                                   for c in result.chains]}
        if result.diagram_png:
            files.append((f"{key}_decision_path_class{result.target_class}.png",
                          result.diagram_png))
    return files
