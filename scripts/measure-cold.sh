#!/usr/bin/env bash
# Times the demo or the test command as a fresh machine runs them.
#
#   scripts/measure-cold.sh --demo [WORK]
#     scripts/demo.sh twice in a fresh container of the project's Debian 12 base image (the
#     one scripts/container-test.sh makes with mmdebstrap): the first run cold (apt, build,
#     serve), the second warm. The sources are HEAD's (git archive).
#   scripts/measure-cold.sh --test [WORK]
#     scripts/test.sh on this machine from a fresh clone of HEAD, with an empty ccache, an
#     empty fixture cache and none of podman's images and volumes of this project (the base
#     images included). Installed Debian packages stay (removing them would break this
#     machine): the demo's cold run shows what installing costs. Most of an hour.
#   WORK: where the sources and caches go (default: a new folder under /tmp); removed
#   afterwards unless XAI_KEEP=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in
  --demo|--test) shift ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "measure-cold: --demo or --test (see --help)" >&2; exit 2 ;;
esac
work=${1:-$(mktemp -d /tmp/xai-cold.XXXXXX)}
mkdir -p "$work"
[ "${XAI_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
cd "$root"

if [ "$mode" = --demo ]; then
  source scripts/lib/podman.sh
  make_base_image bookworm localhost/debian:12 "$work"
  mkdir -p "$work/src"
  git archive HEAD | tar -x -C "$work/src"
  echo "measure-cold: scripts/demo.sh twice in a fresh localhost/debian:12 container"
  podman run --rm --network host "${PODMAN_LIMITS[@]}" -v "$work/src:/src" -w /src \
    localhost/debian:12 bash -c '
      set -e
      start=$(date +%s); bash scripts/demo.sh; cold=$(($(date +%s) - start))
      start=$(date +%s); bash scripts/demo.sh >/dev/null; warm=$(($(date +%s) - start))
      echo "measure-cold: scripts/demo.sh took ${cold} s cold, ${warm} s warm ($(nproc) cores)"'
  exit 0
fi

echo "measure-cold: forgetting podman's images and volumes of this project"
if command -v podman >/dev/null; then
  for image in localhost/xai-serve:test localhost/xai-serve-libtorch2:test \
               localhost/xai-serve-packages:test localhost/xai-serve-libtorch2-packages:test \
               localhost/debian:12 localhost/debian:13; do
    podman rmi -f "$image" >/dev/null 2>&1 || true
  done
  podman volume rm -f xai-libtorch2-ccache >/dev/null 2>&1 || true
  podman image prune -af >/dev/null 2>&1 || true
fi
git clone -q "$root" "$work/xai-serve"
export CCACHE_DIR=$work/ccache XAI_FIXTURE_CACHE=$work/fixture-cache
mkdir -p "$CCACHE_DIR"
echo "measure-cold: scripts/test.sh in $work/xai-serve (ccache and fixture cache empty)"
start=$(date +%s)
status=0
(cd "$work/xai-serve" && bash scripts/test.sh) || status=$?
echo "measure-cold: scripts/test.sh took $(($(date +%s) - start)) s cold (exit $status)"
exit "$status"
