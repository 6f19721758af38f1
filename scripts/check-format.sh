#!/usr/bin/env bash
# Checks that every C++ file under version control follows .clang-format (Debian 12's
# clang-format 14). Exit 1 with the offending files when one does not; `--fix` rewrites
# them in place instead. Run by the test command (CTest test `format`).
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  -h|--help)
    echo "usage: scripts/check-format.sh [--fix]"
    echo "Checks C++ files against .clang-format; --fix reformats them in place."
    exit 0 ;;
  *) echo "check-format: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

CLANG_FORMAT=""
for c in clang-format-14 clang-format; do
  if command -v "$c" >/dev/null; then CLANG_FORMAT=$c; break; fi
done
if [ -z "$CLANG_FORMAT" ]; then
  echo "check-format: clang-format not found (scripts/install-deps.sh installs it)" >&2
  exit 2
fi

# Tracked files when this is a git checkout; every source file otherwise (an unpacked archive).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.h' '*.cc' '*.cpp' '*.hpp')
else
  mapfile -t files < <(find core server client bench tests -name '*.h' -o -name '*.cc')
fi

if [ "$fix" -eq 1 ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  echo "check-format: formatted ${#files[@]} files"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} C++ files differ from .clang-format" \
       "($("$CLANG_FORMAT" --version | head -1)):"
  printf '  %s\n' "${bad[@]}"
  echo "Fix with: bash scripts/check-format.sh --fix"
  exit 1
fi
echo "check-format: ${#files[@]} C++ files follow .clang-format"
