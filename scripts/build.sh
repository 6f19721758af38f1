#!/usr/bin/env bash
# Installs the dependencies and builds everything into build/ (or $XAI_BUILD_DIR).
# Idempotent; a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${XAI_BUILD_DIR:-build}

bash scripts/install-deps.sh
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two compile jobs per 5 GiB of memory at most: LibTorch's headers are heavy.
jobs=$(nproc)
mem_jobs=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / (2500 * 1024) ))
[ "$mem_jobs" -lt "$jobs" ] && jobs=$(( mem_jobs > 0 ? mem_jobs : 1 ))
cmake --build "$BUILD_DIR" -j "$jobs"
