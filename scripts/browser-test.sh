#!/usr/bin/env bash
# The web page tested in a real browser: starts xai-server (the bundled demo model, REST on
# a free port), then tests/browser/page.test.mjs drives Debian's Chromium, headless, with
# npm's puppeteer-core (pinned by tests/browser/package-lock.json; it downloads no browser).
# Screenshots go to WORKDIR/screenshots. Run by the test command (CTest test `browser`).
#
#   scripts/browser-test.sh --server BUILD/xai-server [--work WORKDIR]
#                                        (WORKDIR keeps node_modules between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SERVER="" WORK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "browser-test: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$SERVER" ] || { echo "browser-test: --server must name the xai-server binary" >&2; exit 2; }
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
for tool in node npm "$CHROMIUM"; do
  command -v "$tool" >/dev/null || {
    echo "browser-test: needs $tool (scripts/install-deps.sh installs it)" >&2
    exit 2
  }
done

# puppeteer-core, as the lock file pins it; never a browser download.
cp tests/browser/package.json tests/browser/package-lock.json tests/browser/page.test.mjs "$WORK/"
if ! (cd "$WORK" && npm ls --silent >/dev/null 2>&1); then
  (cd "$WORK" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

LOG=$WORK/server.log
"$SERVER" --address 127.0.0.1:0 --metrics-address "" --http-address 127.0.0.1:0 \
  --model-repository "$ROOT/models" >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 1 300); do
  PORT=$(grep -oE 'web page at http://[^ ]+ \(port [0-9]+\)' "$LOG" | grep -oE '[0-9]+\)$' |
    tr -d ')' || true)
  [ -n "$PORT" ] && curl -fsS "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "browser-test: FAIL the server exited"; exit 1; }
  sleep 0.2
done
[ -n "$PORT" ] || { tail -20 "$LOG"; echo "browser-test: FAIL the server never got ready"; exit 1; }
echo "browser-test: $("$CHROMIUM" --version 2>/dev/null), puppeteer-core" \
  "$(cd "$WORK" && node -p 'require("puppeteer-core/package.json").version'), page at" \
  "http://127.0.0.1:$PORT/"
node "$WORK/page.test.mjs" "http://127.0.0.1:$PORT" "$ROOT/samples" "$WORK/screenshots" "$CHROMIUM"
