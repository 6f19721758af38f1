"""Starts real xai-servers for the client's tests: the binary and the model repository
come from the environment (CTest's python_client test sets them):
  XAI_SERVER_BINARY  path to xai-server
  XAI_FIXTURE_REPO   a model repository with the test fixtures (resnet18, tiny, shapes, ...)
  XAI_SOURCE_DIR     the project's checkout (sample images)
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from xai_client import XaiClient  # noqa: E402


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run these tests through CTest (python_client) or set it",
                    returncode=2)
    return value


class RunningServer:
    """An xai-server on 127.0.0.1 with a port it picked, its log in a file. ``client``: the
    XaiClient arguments that reach it (TLS, token), for waiting until its models load."""

    def __init__(self, *extra_args, client=None, host="127.0.0.1"):
        self._log = tempfile.NamedTemporaryFile("w", prefix="xai_client_server_", suffix=".log",
                                                delete=False)
        self.log_path = self._log.name
        self.process = subprocess.Popen(
            [_env("XAI_SERVER_BINARY"), "--model-repository", _env("XAI_FIXTURE_REPO"),
             "--address", "127.0.0.1:0", "--metrics-address", "", "--http-address", "", *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.port = 0
        give_up = time.monotonic() + 60
        while not self.port and time.monotonic() < give_up:
            match = re.search(r"listening on .* \(port (\d+)\)", self.log())
            if match:
                self.port = int(match.group(1))
            elif self.process.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            self.stop()
            raise RuntimeError("xai-server did not start:\n" + self.log())
        self.address = f"{host}:{self.port}"
        with XaiClient(self.address, timeout=5, **(client or {})) as client:  # until READY
            give_up = time.monotonic() + 120
            while time.monotonic() < give_up:
                states = {m.name: m.state for m in client.list_models()}
                if "LOADING" not in states.values():
                    break
                time.sleep(0.1)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="session")
def server():
    running = RunningServer()
    yield running
    running.stop()
    os.unlink(running.log_path)


@pytest.fixture()
def client(server):
    with XaiClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Two throwaway PKIs, "a" and "b" (tests/server/make_test_pki.sh): {name: {part: path}}."""
    directory = tmp_path_factory.mktemp("pki")
    script = os.path.join(_env("XAI_SOURCE_DIR"), "tests", "server", "make_test_pki.sh")
    made = {}
    for name in ("a", "b"):
        subprocess.run(["bash", script, str(directory), name], check=True)
        made[name] = {part: str(directory / f"{name}-{part}")
                      for part in ("ca.pem", "server.pem", "server.key", "client.pem",
                                   "client.key")}
    return made


@pytest.fixture(scope="session")
def samples():
    return os.path.join(_env("XAI_SOURCE_DIR"), "samples")


@pytest.fixture(scope="session")
def reference_image():
    return os.path.join(os.path.dirname(_env("XAI_FIXTURE_REPO")), "reference", "image.png")
