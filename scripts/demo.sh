#!/usr/bin/env bash
# The main job: installs the build packages only, builds xai-server and the xai CLI only
# (no tests, no fixtures), serves the bundled model repository, classifies the sample
# images and explains one with the CLI (maps and overlay PNG into build/demo/), prints the
# results and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${XAI_BUILD_DIR:-build}

start=$SECONDS
bash scripts/build.sh --product
echo "demo: installed and built in $((SECONDS - start)) s"
bash scripts/lib/demo-run.sh "$BUILD_DIR"
echo
echo "== the web page: $BUILD_DIR/xai-server --model-repository models, then open http://localhost:8000/"
echo "demo: done in $((SECONDS - start)) s"
