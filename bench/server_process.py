"""A real xai-server for the Python benchmarks: on a temporary repository holding one traced
model (`with served_model(server, model, x, threads) as client: ...`) or on a repository
(`with served_repository(server, repo, threads) as client: ...`)."""
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "client", "python"))
from xai_client import XaiClient  # noqa: E402


@contextlib.contextmanager
def served_repository(server_path, repo, threads, extra_args=()):
    """Yields a client of an xai-server serving the model repository `repo`, its models
    loaded; its log goes to a temporary file. `extra_args` go to the server's command line."""
    # No REST port unless `extra_args` asks for one (its default, 8000, may be taken).
    rest = () if "--http-address" in extra_args else ("--http-address", "")
    with tempfile.TemporaryDirectory() as scratch:
        log = open(os.path.join(scratch, "server.log"), "w+")
        server = subprocess.Popen(
            [server_path, "--model-repository", repo, "--address", "127.0.0.1:0",
             "--metrics-address", "", *rest, "--access-log=false", "--intra-op-threads",
             str(threads), *extra_args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            port = None
            while port is None:
                log.seek(0)
                found = re.search(r"\(port (\d+)\)", log.read())
                if found:
                    port = int(found.group(1))
                elif server.poll() is not None:
                    sys.exit("xai-server did not start")
                time.sleep(0.05)
            client = XaiClient("127.0.0.1:%d" % port, timeout=600)
            while any(m.state == "LOADING" for m in client.list_models()):
                time.sleep(0.1)
            yield client
        finally:
            server.terminate()
            server.wait()


@contextlib.contextmanager
def served_model(server_path, model, example, threads, name="resnet18", config="",
                 extra_args=()):
    """Yields a client of an xai-server serving `model` traced on `example` as `name`."""
    size = example.shape[-1]
    with tempfile.TemporaryDirectory() as repo:
        os.makedirs(os.path.join(repo, name, "1"))
        torch.jit.trace(model, example).save(os.path.join(repo, name, "1", "model.pt"))
        with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
            f.write('input { height: %d width: %d }\n%s' % (size, size, config))
        with served_repository(server_path, repo, threads, extra_args) as client:
            yield client
