#!/usr/bin/env bash
# Prints the Debian packages that ship the shared libraries the given binaries link
# directly (their ELF NEEDED entries), one per line: what the image's runtime stage
# installs; apt brings their own dependencies. No -dev package, no compiler.
# ldd reports /lib/... or /usr/lib/... depending on the loader's cache, while dpkg knows
# each file under the path its package installed it to (Debian 12 merges /lib into /usr),
# so every spelling of each library is asked.
set -euo pipefail
for binary in "$@"; do
  needed=$(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}')
  ldd "$binary" | awk '/=> \// {print $1, $3}' | while read -r soname lib; do
    grep -qxF "$soname" <<<"$needed" || continue
    real=$(readlink -f "$lib")
    for path in "$lib" "$real" "${lib#/usr}" "/usr${lib}" "${real#/usr}" "/usr${real}"; do
      dpkg -S "$path" 2>/dev/null | cut -d: -f1 | tr ',' '\n' || true
    done
  done
  # The BLAS LibTorch's libraries link as libblas.so.3 (not the binaries themselves): the
  # package the build stage's alternative points to (OpenBLAS, from install-deps.sh), or
  # apt would install netlib's reference BLAS with libtorch, 25 times slower on a
  # transformer.
  ldd "$binary" | awk '$1 == "libblas.so.3" && $3 ~ /^\// {print $3}' | while read -r lib; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null | cut -d: -f1 || true
  done
done | sed 's/^ *//' | grep -v -- '-dev$' | sort -u
