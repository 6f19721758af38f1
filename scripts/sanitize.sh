#!/usr/bin/env bash
# The sanitizer and fuzz runs (issue 12): the project's own code built with clang and
#   1. AddressSanitizer + UndefinedBehaviorSanitizer: the libFuzzer targets of fuzz/ (image
#      decoding and preprocessing, config parsing, requests from raw protobuf bytes), run
#      side by side for --fuzz-seconds each from their committed seeds, then the unit tests
#      of the code they cover;
#   2. ThreadSanitizer: the scheduler's and the compute pool's tests, and the repository's
#      lifecycle tests (load, reload, unload and drain under queued work): stand-in jobs,
#      which run no LibTorch forward, whose uninstrumented OpenMP threads would give false
#      reports; and the HTTP server's tests (answers from other threads, slow and stalled
#      clients, caps), with Boost.Asio and Beast instrumented (header-only).
# Fails on a crash, a leak or any sanitizer report. LibTorch, gRPC and OpenCV are Debian's,
# not instrumented. Each build compiles what its targets link, no more, with LibTorch's
# headers precompiled for the engine's units (-DXAI_PRECOMPILE_HEADERS=ON: clang parses them
# once per target instead of once per unit) and those units in unity batches of 8
# (-DXAI_UNITY_BUILD=ON); ccache keeps the objects between runs.
#
# Run by the test command (CTest test `sanitize`, 30 s per fuzzer) in build/sanitize.
#
# Usage: scripts/sanitize.sh [--build DIR] [--fuzz-seconds N] [--only asan|tsan]
#   --build DIR        where the two build trees go (default build-sanitize)
#   --fuzz-seconds N   how long each fuzzer runs (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-sanitize
fuzz_seconds=60
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "sanitize: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v clang++ >/dev/null || { echo "sanitize: clang++ missing (scripts/install-deps.sh)" >&2; exit 2; }
jobs=$(nproc)
log() { echo "sanitize: $*"; }

configure() {  # configure DIR SANITIZERS [cmake args...]
  local dir=$1 sanitizers=$2
  shift 2
  # -O1 and line tables only, what the sanitizers' documentation suggests: reports keep
  # their file:line stacks, and the build skips full debug information (a seventh less
  # compile time on the engine's units, and much smaller objects to link).
  CC=clang CXX=clang++ cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DXAI_PRECOMPILE_HEADERS=ON -DXAI_UNITY_BUILD=ON \
    -DXAI_SANITIZE="$sanitizers" "$@" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
}

# LibTorch, protobuf and gRPC keep process-lifetime allocations (registries, pools) that
# LeakSanitizer would report at exit: suppressed by library; leaks in our code still fail.
lsan_suppressions=$build/lsan.supp
mkdir -p "$build"
printf 'leak:libtorch_cpu.so\nleak:libc10.so\nleak:libprotobuf.so\nleak:libgrpc\nleak:libgpr.so\nleak:libopencv\nleak:libgomp.so\n' > "$lsan_suppressions"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$lsan_suppressions:print_suppressions=0

if [ "$only" != tsan ]; then
  dir=$build/asan
  configure "$dir" address,undefined -DXAI_FUZZ=ON
  log "building the fuzzers and unit tests with ASan+UBSan ($jobs jobs)"
  start=$SECONDS
  cmake --build "$dir" -j "$jobs" --target config_fuzz image_fuzz request_fuzz core_unit_test \
    > "$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; exit 1; }
  log "built in $((SECONDS - start)) s"
  # The three fuzzers at once: each is one process on one core, and the wall time is the
  # test command's (--fuzz-seconds each, not three times it).
  log "fuzzing config, image and request side by side for $fuzz_seconds s"
  declare -A fuzzing=()
  for fuzzer in config image request; do
    corpus=$dir/corpus/$fuzzer
    mkdir -p "$corpus"
    (cd "$dir" && XAI_FUZZ_REPOSITORY=$root/models "./fuzz/${fuzzer}_fuzz" \
      -max_total_time="$fuzz_seconds" -timeout=30 -rss_limit_mb=6144 -print_final_stats=1 \
      "$corpus" "$root/fuzz/corpus/$fuzzer" > "$dir/$fuzzer.fuzz.log" 2>&1) &
    fuzzing[$fuzzer]=$!
  done
  failed=""
  for fuzzer in config image request; do
    if ! wait "${fuzzing[$fuzzer]}"; then
      tail -60 "$dir/$fuzzer.fuzz.log"
      log "FAILED: ${fuzzer}_fuzz (artifact in $dir)"
      failed=1
      continue
    fi
    log "$fuzzer: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/$fuzzer.fuzz.log" | grep -o '[0-9]*$') inputs, no report"
  done
  [ -z "$failed" ] || exit 1
  log "running the unit tests under ASan+UBSan"
  (cd "$dir" && ./tests/core_unit_test) > "$dir/tests.log" 2>&1 ||
    { tail -60 "$dir/tests.log"; exit 1; }
  log "core_unit_test: $(grep -c '^\[       OK' "$dir/tests.log" || true) tests passed"
fi

if [ "$only" != asan ]; then
  dir=$build/tsan
  configure "$dir" thread
  log "building the scheduler, compute pool, lifecycle and HTTP server tests with TSan"
  start=$SECONDS
  cmake --build "$dir" -j "$jobs" --target tsan_test http_tsan_test > "$dir.build.log" 2>&1 ||
    { tail -50 "$dir.build.log"; exit 1; }
  log "built in $((SECONDS - start)) s"
  # The lifecycle tests load the fixture models (made by the build tree's setup test).
  (cd "$dir" && ctest -R '^make_fixtures$' > "$dir/fixtures.log" 2>&1) ||
    { tail -30 "$dir/fixtures.log"; exit 1; }
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  (cd "$dir" && ./tests/tsan_test) \
    > "$dir/tests.log" 2>&1 || { tail -80 "$dir/tests.log"; exit 1; }
  log "scheduler, compute pool and lifecycle tests: $(grep -c '^\[       OK' "$dir/tests.log" || true) passed, no race reported"
  (cd "$dir" && ./tests/http_tsan_test) \
    > "$dir/http-tests.log" 2>&1 || { tail -80 "$dir/http-tests.log"; exit 1; }
  log "HTTP server tests: $(grep -c '^\[       OK' "$dir/http-tests.log" || true) passed, no race reported"
fi
log "all clean"
