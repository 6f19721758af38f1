#!/usr/bin/env bash
# The demo's run, on binaries already built: serves the bundled model repository with
# BUILD_DIR's xai-server (every port on 127.0.0.1, port 0), waits until the demo model is
# READY, lists the models, classifies the sample images and explains star_3.png with
# `xai gradcam` (maps and overlay PNG into BUILD_DIR/demo/), then stops the server.
# Used by scripts/demo.sh.
#
#   scripts/lib/demo-run.sh BUILD_DIR
set -euo pipefail
build_dir=${1:?usage: scripts/lib/demo-run.sh BUILD_DIR}
cd "$(dirname "$0")/../.."

log=$(mktemp)
"$build_dir/xai-server" --model-repository models --address 127.0.0.1:0 \
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
  "$build_dir/xai" models 2>/dev/null | grep -q '^shapes .*READY' && break
  sleep 0.2
done

# The server's first line says what it runs on (LibTorch's version, the BLAS).
echo "== xai-server: $(grep -m1 -o 'LibTorch [0-9].*' "$log" || echo "started")"
echo
echo "== xai models"
"$build_dir/xai" models
echo
echo "== xai classify shapes samples/*.png"
"$build_dir/xai" classify shapes samples/*.png --top-k 3
echo
echo "== xai gradcam shapes samples/star_3.png --out $build_dir/demo"
"$build_dir/xai" gradcam shapes samples/star_3.png --out "$build_dir/demo"
