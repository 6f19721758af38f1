#!/usr/bin/env bash
# Builds the whole project against LibTorch 2.x (Debian 13's libtorch-dev 2.6, CPU) in a
# Debian 13 container (docker/Dockerfile.libtorch2) and runs its tests there, so that the
# code stays on the API that 1.13 and the GPU images' 2.x share. Run by the test command
# (CTest test `libtorch2`); the format check (clang-format 14 is Debian 12's), the deploy test
# (no kubectl or node inside), the browser test (no Chromium inside), the container test (no
# podman inside), the sanitizer builds (Debian 12's clang) and the transformer checks are
# left to the host: Debian 13's Python torch 2.6 needs over 13 minutes for
# tools/transformer_reference.py (20 to 35 s with 1.13 on the host), past CTest's limit;
# their C++ is built here all the same.
#
#   scripts/libtorch2-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  "") ;;
  *) echo "libtorch2-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

IMAGE=localhost/xai-serve-libtorch2:test
BASE=localhost/debian:13
source scripts/lib/podman.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

make_base_image trixie "$BASE" "$WORK"
echo "libtorch2-check: making $IMAGE (Debian 13, its libtorch-dev, the sources)"
podman_build "$IMAGE" docker/Dockerfile.libtorch2 "$BASE" "$WORK/image.log" || {
  tail -30 "$WORK/image.log"
  echo "libtorch2-check: FAIL the image with LibTorch 2.x did not build"
  exit 1
}
prune_dangling

# The build tree stays in the container (removed with it); ccache's in a volume, so that a
# second run compiles nothing that did not change.
echo "libtorch2-check: building the project against LibTorch 2.x"
start=$(date +%s)
podman run --rm --network host "${PODMAN_LIMITS[@]}" -v xai-libtorch2-ccache:/root/.cache/ccache \
  "$IMAGE" bash -c \
  'set -e
   echo "LibTorch $(dpkg-query -W -f="\${Version}" libtorch-dev), $(. /etc/os-release; echo $PRETTY_NAME)"
   if ! { cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
          cmake --build /build -j "$(nproc)"; } >/tmp/build.log 2>&1; then
     grep -E "error|FAILED" /tmp/build.log | head -40 || true
     tail -20 /tmp/build.log
     echo "libtorch2-check: FAIL the project did not build against LibTorch 2.x"
     exit 1
   fi
   echo "libtorch2-check: built in $(($(date +%s) - '"$start"')) s;" \
     "$(grep -c "warning:" /tmp/build.log || true) compiler warnings"
   grep -A3 "warning:" /tmp/build.log | head -40 || true
   cd /build
   # -FS: fixture setups are not added back once excluded (every setup is fixture "models").
   ctest -j 2 --timeout 900 --output-on-failure -FS models \
     -E "^(format|container|libtorch2|deploy|sanitize|browser|make_full_size_reference|make_transformer_reference|FullSizeTransformerTest\..*|TransformerTest\..*|ConfiguredModelTest\..*)$"' \
  2>>"$WORK/podman.err" || {
  status=$?
  tail -5 "$WORK/podman.err" >&2
  exit $status
}
