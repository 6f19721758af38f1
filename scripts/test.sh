#!/usr/bin/env bash
# The test command: installs, builds and runs every test (CTest). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${XAI_BUILD_DIR:-build}

bash scripts/build.sh
cd "$BUILD_DIR"
# Fixtures (models, reference tensors, demo images) are made by the setup tests first.
ctest --output-on-failure --timeout 900 -j 2 "$@"
