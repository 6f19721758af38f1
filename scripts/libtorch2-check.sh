#!/usr/bin/env bash
# Builds every unit that touches LibTorch (the engine, the core: repository, scheduler,
# pool, requests, overlays) with xai-serving-check, xai-gpu-check and the engine's tests
# against LibTorch 2.x (Debian 13's libtorch-dev 2.6, CPU) in a Debian 13 container
# (docker/Dockerfile.libtorch2), then runs
#   1. engine_test there (runtime and methods: graph splits, layer capture, every CAM
#      method, attribution and DecisionPath against the reference tensors) on the host
#      build's fixtures, made by Debian 12's Python torch 1.13 and mounted read-only:
#      TorchScript files of 1.13 loaded by 2.6 is what a GPU node running models exported
#      elsewhere does;
#   2. the serving path: xai-serving-check on the demo repository (the Explainer, its
#      scheduler and pool under concurrent Classify, GRAD_CAM with overlays and IG calls),
#      which must call star_3.png a star and write a PNG overlay.
# So the code stays on the API that 1.13 and the GPU images' 2.x share. Only what touches
# LibTorch is built: the server's gRPC and HTTP layers, the CLI and the other test binaries
# hold none and run on the host, not twice (the CUDA image builds xai-server itself), and so
# does xai-bench (the CPU benchmark; xai-gpu-check is the one GPU nodes build). Objects are
# built at -O1 without debug information (a check, not a product), the engine's units with
# LibTorch's headers precompiled and in unity batches (-DXAI_PRECOMPILE_HEADERS=ON
# -DXAI_UNITY_BUILD=ON), and kept by ccache in a volume, so that a second run compiles only
# the batches that changed. The build tree is a host folder,
# removed at the end.
#
#   scripts/libtorch2-check.sh --fixtures DIR
#     DIR: the host build's tests/fixtures (made by CTest's fixture setups)
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fixtures) FIXTURES=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "libtorch2-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$FIXTURES" ] && [ -f "$FIXTURES/repo/tiny/config.pbtxt" ] || {
  echo "libtorch2-check: --fixtures DIR with the host build's fixtures is required" \
    "(cd build && ctest -R libtorch2 makes them first)" >&2
  exit 2
}

IMAGE=localhost/xai-serve-libtorch2:test
BASE=localhost/debian:13
source scripts/lib/podman.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

make_base_image trixie "$BASE" "$WORK"
echo "libtorch2-check: making $IMAGE (Debian 13, its libtorch-dev, the sources)"
start=$(date +%s)
podman_build "$IMAGE" docker/Dockerfile.libtorch2 "$BASE" "$WORK/image.log" || {
  tail -30 "$WORK/image.log"
  echo "libtorch2-check: FAIL the image with LibTorch 2.x did not build"
  exit 1
}
prune_dangling
echo "libtorch2-check: image ready in $(($(date +%s) - start)) s"

echo "libtorch2-check: building xai-serving-check, xai-gpu-check and engine_test against LibTorch 2.x"
mkdir -p "$WORK/build/tests/fixtures"
podman run --rm --network host "${PODMAN_LIMITS[@]}" \
  -v xai-libtorch2-ccache:/root/.cache/ccache \
  -v "$WORK/build:/build" -v "$FIXTURES:/build/tests/fixtures:ro" \
  "$IMAGE" bash -c \
  'set -eo pipefail
   echo "LibTorch $(dpkg-query -W -f="\${Version}" libtorch-dev), $(. /etc/os-release; echo $PRETTY_NAME)"
   start=$(date +%s)
   if ! { cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
            -DXAI_PRECOMPILE_HEADERS=ON -DXAI_UNITY_BUILD=ON &&
          cmake --build /build -j "$(nproc)" \
            --target xai-serving-check xai-gpu-check engine_test; } >/tmp/build.log 2>&1; then
     grep -E "error|FAILED" /tmp/build.log | head -40 || true
     tail -20 /tmp/build.log
     echo "libtorch2-check: FAIL the project did not build against LibTorch 2.x"
     exit 1
   fi
   echo "libtorch2-check: built in $(($(date +%s) - start)) s;" \
     "$(grep -c "warning:" /tmp/build.log || true) compiler warnings"
   grep -A3 "warning:" /tmp/build.log | head -40 || true

   start=$(date +%s)
   if ! /build/tests/engine_test >/tmp/engine_test.log 2>&1; then
     grep -E "^\[  FAILED|Failure|error" /tmp/engine_test.log | head -40 || true
     tail -20 /tmp/engine_test.log
     echo "libtorch2-check: FAIL engine_test against LibTorch 2.x"
     exit 1
   fi
   echo "libtorch2-check: engine_test: $(grep -c "^\[       OK" /tmp/engine_test.log) tests passed" \
     "in $(($(date +%s) - start)) s"

   # The serving path on the demo model: the top class comes from the model, not the name.
   cd /src
   if ! /build/xai-serving-check --model-repository models --model shapes \
          --image samples/star_3.png --expect-class 3 --workloads mixed --concurrency 1,4 \
          --calls 24 --batch-sizes 1,4 --out /build/demo | tee /tmp/serving.txt; then
     echo "libtorch2-check: FAIL xai-serving-check on LibTorch 2.x"
     exit 1
   fi
   grep -q "^xai-serving-check: LibTorch 2\." /tmp/serving.txt ||
     { echo "libtorch2-check: FAIL xai-serving-check does not run on LibTorch 2.x"; exit 1; }
   [ -s /build/demo/star_3_grad_cam.png ] ||
     { echo "libtorch2-check: FAIL no Grad-CAM overlay"; exit 1; }
   echo "libtorch2-check: the serving path on LibTorch 2.x called star_3.png a star" \
     "and drew its Grad-CAM"
' \
  2>>"$WORK/podman.err" || {
  status=$?
  tail -5 "$WORK/podman.err" >&2
  exit $status
}

echo "libtorch2-check: ok"
