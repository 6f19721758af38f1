#!/usr/bin/env bash
# Builds the CPU image (docker/Dockerfile) with podman and tests it as an operator would:
# a model repository mounted read-only (the demo model and a fixture model), health
# through the image's own HEALTHCHECK and the host's CLI, a classification and a Grad-CAM
# explanation through the container, a non-root process, OpenBLAS for LibTorch (the
# server's start log names it), a clean exit within the grace
# period on SIGTERM, and a container with an empty repository that keeps running and says
# why it is NOT_SERVING. Run by the test command (CTest test `container`).
#
#   scripts/container-test.sh [--cli PATH] [--fixture-repo DIR]
#
# Where no image registry is reachable, the Debian 12 base image is made from Debian's
# archive with mmdebstrap, from this machine's own apt sources, once (localhost/debian:12).
# Compiled objects are kept between image builds by a ccache cache mount.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CLI=build/xai
FIXTURE_REPO=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cli) CLI=$2; shift 2 ;;
    --fixture-repo) FIXTURE_REPO=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "container-test: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

IMAGE=localhost/xai-serve:test
BASE=localhost/debian:12
GRACE_SECONDS=30  # xai-server's default --shutdown-grace-seconds
source scripts/lib/podman.sh
LIMITS=("${PODMAN_LIMITS[@]}")

passed=0
failed=0
check() {  # check NAME COMMAND...: runs the command, counts and reports the result
  local name=$1
  shift
  if "$@"; then
    echo "container-test: ok   $name"
    passed=$((passed + 1))
  else
    echo "container-test: FAIL $name"
    failed=$((failed + 1))
  fi
}

[ -x "$CLI" ] || { echo "container-test: no CLI at $CLI (build first)" >&2; exit 2; }

WORK=$(mktemp -d)
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- base image and build
make_base_image bookworm "$BASE" "$WORK"

echo "container-test: building $IMAGE"
start=$(date +%s)
# The host's ccache: the image's build stage compiles what build/ compiled already.
# shellcheck disable=SC2046
podman_build "$IMAGE" docker/Dockerfile "$BASE" "$WORK/build.log" $(host_ccache_args) || {
  tail -50 "$WORK/build.log"
  echo "container-test: FAIL the image did not build"
  exit 1
}
prune_dangling
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "container-test: built in $(($(date +%s) - start)) s, $((size / 1000000)) MB;" \
  "$(grep -o 'ccache: .*' "$WORK/build.log" | tail -1)"
checks_start=$(date +%s)

# ---------------------------------------------------------------- the image's contents
in_image() {
  podman run --rm "${LIMITS[@]}" --entrypoint /bin/sh "$IMAGE" -c "$1" 2>>"$WORK/podman.err"
}
check "no compiler, no headers, no build tree in the image" \
  in_image '! command -v c++ && ! command -v cmake && [ ! -d /usr/include/torch ] && [ ! -d /src ] && [ ! -d /build ]'
check "the image runs as a non-root user" in_image '[ "$(id -u)" != 0 ]'
check "the demo repository is at the default path" in_image '[ -f /models/shapes/config.pbtxt ]'

# ---------------------------------------------------------------- serving a mounted repository
repo=$WORK/repo
mkdir -p "$repo"
cp -r models/shapes "$repo/"
if [ -n "$FIXTURE_REPO" ]; then cp -r "$FIXTURE_REPO/tiny" "$repo/"; fi
chmod -R a+rX "$WORK"

# Starts the image with its default command (0.0.0.0:50051, REST on 8000, metrics on 8002)
# and `$1` mounted at /models, ports 50051, 8000 and 8002 published on free ports of
# 127.0.0.1; sets cid, port, http_port and metrics_port.
start_server() {
  # podman's complaints that there is no systemd to time the HEALTHCHECK go to a file.
  cid=$(podman run -d "${LIMITS[@]}" -p 127.0.0.1::50051 -p 127.0.0.1::8000 -p 127.0.0.1::8002 -v "$1:/models:ro" "$IMAGE" \
    2>>"$WORK/podman.err") || { cat "$WORK/podman.err"; return 1; }
  containers+=("$cid")
  for _ in $(seq 1 300); do
    if podman logs "$cid" 2>&1 | grep -q 'listening on'; then
      port=$(podman port "$cid" 50051 | head -1 | cut -d: -f2)
      metrics_port=$(podman port "$cid" 8002 | head -1 | cut -d: -f2)
      http_port=$(podman port "$cid" 8000 | head -1 | cut -d: -f2)
      return 0
    fi
    sleep 0.2
  done
  podman logs "$cid" 2>&1 | tail -20
  return 1
}
wait_healthy() {  # wait_healthy [MODEL]: up to 120 s for the host's CLI to see SERVING
  for _ in $(seq 1 240); do
    "$CLI" --server "127.0.0.1:$port" --timeout 3 health "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

start_server "$repo" || { echo "container-test: FAIL the server did not start"; exit 1; }
xai=("$CLI" --server "127.0.0.1:$port")
check "health SERVING through the host's CLI" wait_healthy
check "the demo model is SERVING" wait_healthy shapes
if [ -n "$FIXTURE_REPO" ]; then check "the fixture model is SERVING" wait_healthy tiny; fi
check "the image's HEALTHCHECK passes" bash -c "podman healthcheck run $cid 2>>$WORK/podman.err"
server_uid() { stat -c %u "/proc/$(podman inspect --format '{{.State.Pid}}' "$cid")"; }
check "the server process is not root (uid $(server_uid))" [ "$(server_uid)" != 0 ]
check "LibTorch's matrix products run on OpenBLAS, not the reference BLAS" \
  bash -c "podman logs $cid 2>&1 | grep -q 'BLAS: OpenBLAS'"
check "classify a sample through the container" \
  bash -c "${xai[*]} classify shapes samples/star_3.png | grep -q ' star '"
check "explain a sample through the container" \
  bash -c "${xai[*]} gradcam shapes samples/star_3.png --out $WORK/out >/dev/null &&
           [ -s $WORK/out/star_3_grad_cam_stage4_class3_overlay.png ] &&
           [ -s $WORK/out/star_3_grad_cam_stage4_class3_cam.npy ]"
if [ -n "$FIXTURE_REPO" ]; then
  check "classify with the fixture model" \
    bash -c "${xai[*]} --json classify tiny samples/star_3.png | grep -q '\"probability\"'"
fi
# The metrics port the image exposes counts the call above.
check "Prometheus metrics on the exposed port count the classification" \
  /usr/bin/python3 -c "import sys, urllib.request
page = urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics', timeout=10).read().decode()
want = 'xai_requests_total{model=\"shapes\",version=\"1\",rpc=\"Classify\",method=\"\",code=\"OK\"} 1'
sys.exit(0 if want in page else 1)"

# REST and the web page on the exposed port 8000.
check "REST: classify a sample on the exposed port" \
  bash -c "curl -fsS -H 'Content-Type: application/json' \
             http://127.0.0.1:$http_port/v1/models/shapes:classify \
             -d '{\"image\": {\"encoded\": \"'\$(base64 -w0 samples/star_3.png)'\"}}' |
           grep -q '\"label\":\"star\"'"
check "the web page and its samples are served from the binary" \
  bash -c "curl -fsS http://127.0.0.1:$http_port/ | grep -q '<title>xai-serve</title>' &&
           curl -fsS http://127.0.0.1:$http_port/samples/index.json | grep -q star_3.png"

# SIGTERM: the server stops accepting calls, finishes what is in flight and exits 0.
stop_start=$(date +%s)
podman kill --signal TERM "$cid" >/dev/null
exit_code=$(timeout $((GRACE_SECONDS + 10)) podman wait "$cid" || echo timeout)
stop_seconds=$(($(date +%s) - stop_start))
check "SIGTERM: exit 0 within the ${GRACE_SECONDS} s grace (exit $exit_code after ${stop_seconds} s)" \
  bash -c "[ '$exit_code' = 0 ] && [ $stop_seconds -le $GRACE_SECONDS ]"
check "SIGTERM: the log says it stopped" bash -c "podman logs $cid 2>&1 | grep -q stopped"

# ---------------------------------------------------------------- an empty repository
mkdir -p "$WORK/empty"
start_server "$WORK/empty" || { echo "container-test: FAIL the server did not start"; exit 1; }
sleep 2
check "an empty repository: still running" \
  bash -c "[ \"\$(podman inspect --format '{{.State.Running}}' $cid)\" = true ]"
check "an empty repository: NOT_SERVING" \
  bash -c "! $CLI --server 127.0.0.1:$port --timeout 3 health >$WORK/health.out 2>&1 &&
           grep -q NOT_SERVING $WORK/health.out"
check "an empty repository: the log says why" \
  bash -c "podman logs $cid 2>&1 | grep -q 'holds no model'"
podman rm -f "$cid" >/dev/null

echo "container-test: image $IMAGE, $((size / 1000000)) MB"
echo "container-test: the checks of the image ran in $(($(date +%s) - checks_start)) s"
echo "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
