"""The build step of xai_client: its gRPC stubs are generated from the project's protos
while the package is built, so that ``pip install client/python`` (Debian's pip, offline:
``/usr/bin/python3 -m pip install --no-build-isolation client/python``) gives a working
package. The metadata is in pyproject.toml; this file only adds that step.

The stubs come from protoc and grpc_python_plugin (Debian's protobuf-compiler and
protobuf-compiler-grpc). The protos are looked for, in this order, in $XAI_PROTO_DIR,
``proto/`` beside this file (an sdist: ``sdist`` copies them there) and the checkout's
``proto/`` two levels up. The generated modules import each other as xai.v1 and
grpc.health.v1: their imports are rewritten to live under xai_client._proto, so they
neither need a path entry nor shadow the grpc package.

generate_stubs.sh runs ``generate_stubs`` below for in-tree development (into
xai_client/_proto/, not tracked); it is the one implementation of both.
"""

import os
import re
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = ("xai/v1/feature_layout.proto", "xai/v1/explainer.proto", "xai/v1/model_admin.proto",
          "grpc/health/v1/health.proto")
INSTALL_HINT = "on Debian: apt-get install protobuf-compiler protobuf-compiler-grpc"


class StubError(Exception):
    """The stubs cannot be generated: a tool or a proto is missing, or protoc failed."""


def find_proto_dir():
    """The directory holding every proto of PROTOS (an import root for protoc)."""
    candidates = [os.environ.get("XAI_PROTO_DIR"), os.path.join(HERE, "proto"),
                  os.path.join(HERE, os.pardir, os.pardir, "proto")]
    for candidate in candidates:
        if candidate and all(os.path.isfile(os.path.join(candidate, p)) for p in PROTOS):
            return os.path.abspath(candidate)
    raise StubError("the protos (%s) are in none of: %s. Build from the xai-serve checkout "
                    "(client/python beside proto/), from an sdist, or set XAI_PROTO_DIR"
                    % (", ".join(PROTOS), ", ".join(os.path.abspath(c) for c in candidates if c)))


def generate_stubs(out, proto_dir=None):
    """Writes the stubs as the package xai_client._proto into ``out`` (replaced whole).
    Returns the paths of the modules written."""
    protoc = shutil.which("protoc")
    if not protoc:
        raise StubError("protoc is missing (%s)" % INSTALL_HINT)
    plugin = shutil.which("grpc_python_plugin")
    if not plugin:
        raise StubError("grpc_python_plugin is missing (%s)" % INSTALL_HINT)
    proto_dir = proto_dir or find_proto_dir()
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".proto-", dir=parent)  # beside out: the rename is atomic
    try:
        command = [protoc, "-I", proto_dir, "--python_out=" + tmp, "--grpc_out=" + tmp,
                   "--plugin=protoc-gen-grpc=" + plugin]
        command += [os.path.join(proto_dir, p) for p in PROTOS]
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        if run.returncode != 0:
            raise StubError("protoc failed (exit %d): %s" % (run.returncode, run.stdout.strip()))
        written = []
        for directory, _, files in os.walk(tmp):
            os.chmod(directory, 0o755)  # mkdtemp's 0700 would carry into the install
            open(os.path.join(directory, "__init__.py"), "a").close()  # packages
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    text = f.read()
                text = re.sub(r"^from (xai|grpc\.health)\.v1 import ",
                              r"from xai_client._proto.\1.v1 import ", text, flags=re.M)
                with open(path, "w") as f:
                    f.write(text)
                written.append(os.path.join(out, os.path.relpath(path, tmp)))
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
        return written
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fail(error):
    """Ends the build with one clear line (pip prints it in the build's output)."""
    raise SystemExit("error: xai_client's gRPC stubs: %s" % error)


if __name__ == "__main__":  # setuptools' build backend, not generate_stubs.sh
    from setuptools import setup
    from setuptools.command.build_py import build_py
    from setuptools.command.sdist import sdist

    class BuildPyWithStubs(build_py):
        """build_py, then the stubs into the build directory (an editable install: into
        the source tree's xai_client/_proto/, which it imports from)."""

        def run(self):
            super().run()
            if getattr(self, "editable_mode", False):
                out = os.path.join(HERE, "xai_client", "_proto")
            else:
                out = os.path.join(self.build_lib, "xai_client", "_proto")
            try:
                self._stubs = generate_stubs(out)
            except StubError as e:
                _fail(e)
            self.announce("xai_client: %d stub modules generated in %s"
                          % (sum(p.endswith(("_pb2.py", "_pb2_grpc.py")) for p in self._stubs),
                             out), level=2)

        def get_outputs(self, include_bytecode=1):
            return super().get_outputs(include_bytecode) + list(getattr(self, "_stubs", []))

    class SdistWithProtos(sdist):
        """An sdist that builds on its own: the protos go into it, under proto/."""

        def make_release_tree(self, base_dir, files):
            super().make_release_tree(base_dir, files)
            try:
                proto_dir = find_proto_dir()
            except StubError as e:
                _fail(e)
            for proto in PROTOS:
                target = os.path.join(base_dir, "proto", proto)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(os.path.join(proto_dir, proto), target)

    setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos})
