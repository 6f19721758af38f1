#!/usr/bin/env bash
# The Python client's tests against real xai-servers (CTest: python_client). Generates
# the stubs first. Needs XAI_SERVER_BINARY, XAI_FIXTURE_REPO and XAI_SOURCE_DIR (CTest
# sets them; see tests/conftest.py) and Debian's python3-grpcio, python3-protobuf,
# python3-numpy and python3-pytest, called as /usr/bin/python3; tests/test_install.py also
# python3-pip, python3-setuptools and python3-wheel (it pip-installs the package).
set -euo pipefail
cd "$(dirname "$0")"
bash generate_stubs.sh
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q tests "$@"
