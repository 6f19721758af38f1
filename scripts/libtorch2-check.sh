#!/usr/bin/env bash
# Builds the product's LibTorch side (xai-server, xai-gpu-check) and the engine's tests
# against LibTorch 2.x (Debian 13's libtorch-dev 2.6, CPU) in a Debian 13 container
# (docker/Dockerfile.libtorch2), then runs
#   1. engine_test there (runtime and methods: graph splits, layer capture, every CAM
#      method, attribution and DecisionPath against the reference tensors) on the host
#      build's fixtures, made by Debian 12's Python torch 1.13 and mounted read-only:
#      TorchScript files of 1.13 loaded by 2.6 is what a GPU node running models exported
#      elsewhere does;
#   2. the product: that xai-server on the demo repository, in the container, and the
#      host's `xai` CLI (--cli) calling it over the host's network: the demo's models,
#      classify and gradcam (scripts/lib/demo-run.sh).
# So the code stays on the API that 1.13 and the GPU images' 2.x share. Only what touches
# LibTorch or serves is built: the CLI (no LibTorch) and the other test binaries run on the
# host, not twice, and so does xai-bench (the CPU benchmark; xai-gpu-check is the one GPU
# nodes build). Objects are built at -O1 without debug information (a check, not a
# product), the engine's units with LibTorch's headers precompiled
# (-DXAI_PRECOMPILE_HEADERS=ON), and kept by ccache in a volume, so that a second run
# compiles only what changed. The build tree is a host folder, removed at the end.
#
#   scripts/libtorch2-check.sh --fixtures DIR --cli XAI
#     DIR: the host build's tests/fixtures (made by CTest's fixture setups)
#     XAI: the host build's xai CLI
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURES=""
CLI=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fixtures) FIXTURES=$(cd "$2" && pwd); shift 2 ;;
    --cli) CLI=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "libtorch2-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$FIXTURES" ] && [ -f "$FIXTURES/repo/tiny/config.pbtxt" ] || {
  echo "libtorch2-check: --fixtures DIR with the host build's fixtures is required" \
    "(cd build && ctest -R libtorch2 makes them first)" >&2
  exit 2
}
[ -n "$CLI" ] && [ -x "$CLI" ] || {
  echo "libtorch2-check: --cli XAI, the host build's xai, is required" >&2
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

echo "libtorch2-check: building xai-server, xai-gpu-check and engine_test against LibTorch 2.x"
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
            -DXAI_PRECOMPILE_HEADERS=ON &&
          cmake --build /build -j "$(nproc)" \
            --target xai-server xai-gpu-check engine_test; } >/tmp/build.log 2>&1; then
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
' \
  2>>"$WORK/podman.err" || {
  status=$?
  tail -5 "$WORK/podman.err" >&2
  exit $status
}

# The demo as scripts/demo.sh runs it, with the container's server and the host's CLI:
# demo-run.sh starts BIN/xai-server (here the container, whose SIGTERM podman passes on)
# and calls BIN/xai. The top class comes from the server, not the sample's name.
BIN=$WORK/bin
mkdir -p "$BIN"
ln -s "$CLI" "$BIN/xai"
{
  echo '#!/usr/bin/env bash'
  printf 'exec podman run --rm --network host'
  printf ' %q' "${PODMAN_LIMITS[@]}" -v "$WORK/build:/build:ro" -w /src "$IMAGE" /build/xai-server
  echo ' "$@"'
} >"$BIN/xai-server"
chmod +x "$BIN/xai-server"
bash scripts/lib/demo-run.sh "$BIN" | tee "$WORK/demo.txt"
grep -q "^== xai-server: LibTorch 2\." "$WORK/demo.txt" ||
  { echo "libtorch2-check: FAIL the demo's server is not the LibTorch 2.x build"; exit 1; }
grep -q "top class 3 star" "$WORK/demo.txt" ||
  { echo "libtorch2-check: FAIL the demo model did not call star_3.png a star"; exit 1; }
[ -s "$BIN/demo/star_3_grad_cam_stage4_class3_overlay.png" ] ||
  { echo "libtorch2-check: FAIL no Grad-CAM overlay"; exit 1; }
echo "libtorch2-check: xai-server on LibTorch 2.x served the demo's classify and gradcam"
echo "libtorch2-check: ok"
