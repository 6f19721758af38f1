#!/usr/bin/env bash
# The test command: installs, builds and runs every test (CTest). Used by .ci/run.
# Arguments go to ctest (e.g. -R engine_test, -E container). At the end: where the time
# went, per test group (scripts/lib/test_times.py), then CTest's summary again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BUILD_DIR=${XAI_BUILD_DIR:-build}

start=$SECONDS
mkdir -p "$BUILD_DIR/Testing"
# The whole command (no ctest arguments): the container tests' base images and package
# stages are made beside the build (downloads beside compiles; XAI_PREPARE_IMAGES=0: not).
prepare=""
if [ $# -eq 0 ] && [ "${XAI_PREPARE_IMAGES:-1}" != 0 ]; then
  bash scripts/install-deps.sh
  bash scripts/lib/prepare-images.sh >"$BUILD_DIR/Testing/prepare-images.log" 2>&1 &
  prepare=$!
fi
bash scripts/build.sh
if [ -n "$prepare" ]; then
  wait_start=$SECONDS
  wait "$prepare" || echo "test: preparing the images failed (the container tests make them):"
  tail -3 "$BUILD_DIR/Testing/prepare-images.log"
  echo "test: waited $((SECONDS - wait_start)) s for the images after the build"
fi
build_seconds=$((SECONDS - start))
cd "$BUILD_DIR"
log=Testing/test-command.log
# Fixtures (models, reference tensors, demo images) are made by the setup tests first. A
# passing test's output is kept whole in the JUnit file (CTest cuts it at 1 KiB by default):
# test_times.py reads the script tests' step times from it.
set +e
ctest --output-on-failure --timeout 900 -j 2 --test-output-size-passed 65536 \
  --output-junit "$PWD/Testing/junit.xml" "$@" |
  tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ -f Testing/junit.xml ] && ctest --show-only=json-v1 "$@" >Testing/tests.json 2>/dev/null; then
  /usr/bin/python3 "$root/scripts/lib/test_times.py" --junit Testing/junit.xml \
    --tests Testing/tests.json --build-seconds "$build_seconds" || true
  # CTest's summary stays the last thing printed.
  echo
  sed -n '/tests passed, .* tests failed out of/,$p' "$log"
fi
exit "$status"
