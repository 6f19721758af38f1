#!/usr/bin/env bash
# Runs a fixture maker (tools/*_reference.py) once per change of its inputs, and copies its
# output from a cache otherwise: reference tensors take minutes to compute and depend only
# on the maker's scripts, its arguments and the Python packages that compute them.
#
#   scripts/cached-fixture.sh --out DIR [--input PATH]... -- COMMAND [ARG]...
#
# COMMAND writes DIR. The key is a SHA-256 of COMMAND (the source tree's path and DIR
# written as placeholders, so that another clone shares the entry), of every --input file
# (a folder: every file in it) and of the installed versions of Debian's python3-torch,
# python3-torchvision, python3-numpy, python3-opencv and python3-pil, and of the BLAS
# library torch runs on (Debian's libblas.so.3 alternative). A hit copies the
# entry into DIR; a miss runs COMMAND and stores DIR when it succeeds (the maker's earlier
# entries go). The cache: $XAI_FIXTURE_CACHE, default ~/.cache/xai-serve/fixtures;
# XAI_FIXTURE_CACHE=off runs COMMAND every time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=""
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --input) inputs+=("$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "cached-fixture: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] && [ $# -gt 0 ] || { echo "cached-fixture: --out DIR and -- COMMAND are required" >&2; exit 2; }
cache=${XAI_FIXTURE_CACHE:-${HOME:-/root}/.cache/xai-serve/fixtures}
name=$(basename "$out")
if [ "$cache" = off ]; then exec "$@"; fi

key=$(
  {
    printf '%s\n' "$@" | sed -e "s|$out|@OUT@|g" -e "s|$root|@SRC@|g"
    for input in "${inputs[@]}"; do
      [ -e "$input" ] || { echo "cached-fixture: no input $input" >&2; exit 2; }
      (cd "$(dirname "$input")" && find "$(basename "$input")" -type f -print0 | sort -z |
        xargs -0 sha256sum)
    done
    dpkg-query -W python3-torch python3-torchvision python3-numpy python3-opencv python3-pil \
      2>/dev/null || true
    # the BLAS that computes torch's matrix products (Debian's libblas.so.3 alternative)
    readlink -f /usr/lib/*/libblas.so.3 2>/dev/null || true
  } | sha256sum | cut -c1-16
)
entry=$cache/$name-$key
if [ -f "$entry/.complete" ]; then
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  cp -a "$entry" "$out"
  rm -f "$out/.complete"
  echo "cached-fixture: $name from the cache ($entry): its inputs are unchanged"
  exit 0
fi

start=$SECONDS
"$@"
echo "cached-fixture: $name made in $((SECONDS - start)) s; stored as $entry"
mkdir -p "$cache"
tmp=$cache/.incoming-$name-$$
rm -rf "$tmp"
if cp -a "$out" "$tmp" && touch "$tmp/.complete"; then
  for old in "$cache/$name"-*; do [ -e "$old" ] && rm -rf "$old"; done
  mv "$tmp" "$entry"
else
  rm -rf "$tmp"
  echo "cached-fixture: could not store $name in $cache (the fixture itself is fine)" >&2
fi
