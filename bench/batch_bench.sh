#!/usr/bin/env bash
# Is `xai batch` the bottleneck? Against one local xai-server with dynamic batching, the
# images/s of `xai batch RPC` over IMAGES generated images (files read, hashed, sent, the
# answers written as .npy and indexed) next to the calls/s `xai-bench` measures for the
# same RPC at the same concurrency on one of those images, bench before and after the batch
# run (the machine drifts). Prints each figure and batch / mean(bench).
#
#   bash bench/batch_bench.sh [--build DIR] [--repository DIR] [--model NAME] [--rpc gradcam|classify]
#                             [--concurrency C] [--images N] [--calls N] [--threads T]
#
# Defaults: build/, build/tests/fixtures/bench (resnet18 behind a dynamic batcher, max batch
# 8), resnet18, gradcam, 8, 500, 96 calls per bench level, 1 intra-op thread.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/build"
repository=""
model=resnet18
rpc=gradcam
concurrency=8
images=500
calls=96
threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --repository) repository="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --rpc) rpc="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --calls) calls="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "batch_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
repository="${repository:-$build/tests/fixtures/bench}"
case "$rpc" in
  gradcam) bench_row=GradCAM; batch_flags=(--no-overlay) ;;
  classify) bench_row=Classify; batch_flags=() ;;
  *) echo "batch_bench.sh: --rpc is gradcam or classify (the RPCs xai-bench sweeps)" >&2; exit 2 ;;
esac
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Synthetic 224x224 JPEGs (quality 90), like xai-bench's own image.
/usr/bin/python3 - "$work/images" "$images" <<'EOF'
import os, sys
import numpy as np
from PIL import Image
folder, n = sys.argv[1], int(sys.argv[2])
os.makedirs(folder)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:224, 0:224]
for i in range(n):
    cx, cy, r = rng.integers(40, 184, 2).tolist() + [int(rng.integers(20, 60))]
    base = rng.integers(0, 255, 3)
    pixels = np.where(((x - cx) ** 2 + (y - cy) ** 2 < r * r)[..., None],
                      255 - base, base) + rng.normal(0, 12, (224, 224, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        os.path.join(folder, f"{i:05d}.jpg"), quality=90)
EOF

"$build/xai-server" --model-repository "$repository" --address 127.0.0.1:0 --metrics-address "" \
  --http-address "" --access-log=false --intra-op-threads "$threads" >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 600); do
  port="$(grep -oP 'listening on .* \(port \K\d+' "$work/server.log" | head -1 || true)"
  [ -n "$port" ] && "$build/xai" --server "127.0.0.1:$port" health >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
address="127.0.0.1:$port"

bench() {
  "$build/xai-bench" --server "$address" --model-repository "$repository" --model "$model" \
    --image "$work/images/00000.jpg" --skip-latency --concurrency "$concurrency" \
    --calls "$calls" --intra-op-threads "$threads" >"$work/bench.txt"
  awk -v row="$bench_row" '$1 == row { print $6 }' "$work/bench.txt"
}

echo "batch_bench: $model, $rpc, concurrency $concurrency, $images images, $(nproc) cores," \
  "$threads intra-op thread(s), $(date -u +%Y-%m-%dT%H:%MZ)"
before="$(bench)"
echo "xai-bench $bench_row at C=$concurrency (before): $before calls/s"
"$build/xai" --json --timeout 120 batch "$rpc" "$model" "$work/images" --out "$work/out" \
  --server "$address" --concurrency "$concurrency" "${batch_flags[@]}" >"$work/batch.json"
batch="$(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["ok"] == int(sys.argv[2]), s; print("%.2f" % s["images_per_second"])' "$work/batch.json" "$images")"
echo "xai batch $rpc over $images images: $batch images/s (files and index written)"
after="$(bench)"
echo "xai-bench $bench_row at C=$concurrency (after): $after calls/s"
/usr/bin/python3 -c 'import sys; b, x, y = map(float, sys.argv[1:]); print("xai batch / xai-bench: %.2fx (bench mean %.2f calls/s)" % (b / ((x + y) / 2), (x + y) / 2))' \
  "$batch" "$before" "$after"
