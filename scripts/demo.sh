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
log=$(mktemp)
"$BUILD_DIR/xai-server" --model-repository models --address 127.0.0.1:0 \
  --metrics-address 127.0.0.1:0 --http-address 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT

port=""
for _ in $(seq 1 300); do  # up to 30 s
  port=$(grep -o 'listening on .* (port [0-9]*)' "$log" | grep -o '[0-9]*)$' | tr -d ')' || true)
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "xai-server did not start:"; cat "$log"; exit 1; }
export XAI_SERVER=127.0.0.1:$port
for _ in $(seq 1 300); do  # wait until the demo model is READY
  "$BUILD_DIR/xai" models 2>/dev/null | grep -q '^shapes .*READY' && break
  sleep 0.2
done

echo "== xai models"
"$BUILD_DIR/xai" models
echo
echo "== xai classify shapes samples/*.png"
"$BUILD_DIR/xai" classify shapes samples/*.png --top-k 3
echo
echo "== xai gradcam shapes samples/star_3.png --out $BUILD_DIR/demo"
"$BUILD_DIR/xai" gradcam shapes samples/star_3.png --out "$BUILD_DIR/demo"
echo
echo "== the web page: $BUILD_DIR/xai-server --model-repository models, then open http://localhost:8000/"
echo "demo: done in $((SECONDS - start)) s"
