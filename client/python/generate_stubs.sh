#!/usr/bin/env bash
# Generates the gRPC stubs of xai_client from the project's protos with Debian's protoc
# and grpc_python_plugin (packages protobuf-compiler and protobuf-compiler-grpc), into
# xai_client/_proto/ (not tracked), for using the client in the tree
# (PYTHONPATH=client/python) and for its tests. Run it once after a checkout and again
# when a proto changes; idempotent. `pip install client/python` does not need it: the
# package's build step (setup.py) generates the stubs itself, with the same code, which
# this script runs: the generated modules' imports are rewritten to live under
# xai_client._proto, so they neither need a path entry nor shadow the grpc package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
[ -x "$python" ] || python=python3  # only the standard library is needed here
exec "$python" - "$here" <<'PY'
import os, runpy, sys
here = sys.argv[1]
build = runpy.run_path(os.path.join(here, "setup.py"), run_name="xai_client_stubs")
out = os.path.join(here, "xai_client", "_proto")
try:
    written = build["generate_stubs"](out)
except build["StubError"] as e:
    sys.exit(f"generate_stubs: {e}")
print(f"generate_stubs: {sum(p.endswith('.py') and '_pb2' in p for p in written)} modules in {out}")
PY
