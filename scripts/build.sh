#!/usr/bin/env bash
# Installs the dependencies and builds into build/ (or $XAI_BUILD_DIR).
#   scripts/build.sh            every package the tests need, and every target (the test command)
#   scripts/build.sh --product  the build packages only, and xai-server and xai only (the demo)
# Idempotent; a second run only rebuilds what changed. Both share build/: the test command
# after the demo compiles only the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${XAI_BUILD_DIR:-build}

case "${1:-}" in
  "") deps=(); tests=ON; targets=() ;;
  --product) deps=(--build); tests=OFF; targets=(--target xai-server xai) ;;
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  *) echo "build: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac
start=$SECONDS
bash scripts/install-deps.sh "${deps[@]}"
installed=$SECONDS
# Configured once; the test command configures the tests in where the demo left them out.
if [ ! -f "$BUILD_DIR/build.ninja" ] ||
   { [ "$tests" = ON ] && ! grep -q '^XAI_BUILD_TESTS:BOOL=ON$' "$BUILD_DIR/CMakeCache.txt"; }; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXAI_BUILD_TESTS=$tests
fi
# Two compile jobs per 5 GiB of memory at most: LibTorch's headers are heavy.
jobs=$(nproc)
mem_jobs=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / (2500 * 1024) ))
[ "$mem_jobs" -lt "$jobs" ] && jobs=$(( mem_jobs > 0 ? mem_jobs : 1 ))
cmake --build "$BUILD_DIR" -j "$jobs" "${targets[@]}"
echo "build: packages $((installed - start)) s, configure and build $((SECONDS - installed)) s"
