#!/usr/bin/env bash
# Installs every Debian 12 package xai-serve needs to build, test and run.
#   scripts/install-deps.sh           everything: build, tests, fixtures, sanitizers,
#                                     the browser test, container tests
#   scripts/install-deps.sh --build   what compiling xai-server and xai needs, nothing more
#                                     (the container image's build stage)
#   scripts/install-deps.sh --build-gtest
#                                     --build and GoogleTest: C++ tests run against fixtures
#                                     made elsewhere (the LibTorch 2.x check's container)
#   scripts/install-deps.sh --no-containers
#                                     build and tests, without the container tools, the
#                                     sanitizers and Chromium
# Knows Debian 12 (the project's machines), Debian 13 (the LibTorch 2.x check) and Ubuntu
# 24.04 (the CUDA image's base). XAI_LIBTORCH_DIR=/path/to/libtorch: LibTorch comes from
# there (e.g. PyTorch's CUDA build), not from the libtorch-dev package.
# Idempotent: packages already present are skipped without touching apt's lists,
# so a second run costs a dpkg query and nothing else.
set -euo pipefail

BUILD_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # engine; OpenBLAS (the OpenMP build, which follows LibTorch's thread count) for its
  # matrix products: libtorch-dev pulls in netlib's reference libblas3, on which a
  # transformer's forward is 25 times slower, and Debian's alternatives prefer OpenBLAS
  libtorch-dev libopenblas0-openmp
  # wire, server
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # image codecs; libwebp's header parser, the one OpenCV's WebP decoder uses
  libopencv-dev libopencv-contrib-dev libwebp-dev
  # logging, CLI, JSON; the HTTP ports (Boost.Beast, header-only, and zlib for gzip); the
  # tests' HTTP client (cpp-httplib)
  libspdlog-dev libcli11-dev nlohmann-json3-dev libboost-dev zlib1g-dev libcpp-httplib-dev
  # TLS files checked before serving, token digests
  libssl-dev
)
TEST_PACKAGES=(
  # the format check run by the tests (.clang-format is written for version 14)
  clang-format
  # tests
  libgtest-dev libgmock-dev
  # model export, fixtures and reference tensors (called as /usr/bin/python3)
  python3 python3-torch python3-torchvision python3-numpy python3-pil python3-opencv
  # the metrics tests parse /metrics with Prometheus' own parser
  python3-prometheus-client
  # the Python client (client/python) and its tests against a real server
  python3-grpcio python3-protobuf python3-pytest
  # ... installed as a package by the tests (pip install --no-build-isolation: Debian's pip,
  # setuptools and wheel build it offline; its build step runs protoc, a build package)
  python3-pip python3-setuptools python3-wheel
  # the TLS tests make a throwaway CA and certificates at test time
  openssl
  # the browser and container tests ask the REST port
  curl
)
# The sanitizer and fuzz builds (scripts/sanitize.sh, run by the test command on the host):
# clang and its runtimes (libFuzzer, ASan, UBSan, TSan), whose package names carry clang's
# version. Not in the LibTorch 2.x check's container, which leaves the sanitizers to the host.
SANITIZER_PACKAGES=(clang)
# The web page's browser test (scripts/browser-test.sh): Chromium, driven headless by npm's
# puppeteer-core; a font for its text. Not in the LibTorch 2.x check's container either.
BROWSER_PACKAGES=(chromium fonts-dejavu-core)
CONTAINER_PACKAGES=(
  # the container tests: images built and run with podman (runc), base images made from
  # Debian's archive with mmdebstrap
  podman runc mmdebstrap uidmap slirp4netns fuse-overlayfs
)

os=$(. /etc/os-release && echo "${ID:-?} ${VERSION_ID:-?}")
case "$os" in
  "debian 12") SANITIZER_PACKAGES+=(libclang-rt-14-dev) ;;
  "debian 13") SANITIZER_PACKAGES+=(libclang-rt-19-dev) ;;
  "ubuntu 24.04") SANITIZER_PACKAGES+=(libclang-rt-18-dev) ;;
  *) echo "install-deps: written for Debian 12 (also Debian 13, Ubuntu 24.04), not $os: trying" >&2
     SANITIZER_PACKAGES+=(libclang-rt-dev) ;;
esac

case "${1:-}" in
  --build) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  --build-gtest) PACKAGES=("${BUILD_PACKAGES[@]}" libgtest-dev libgmock-dev) ;;
  --no-containers) PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${SANITIZER_PACKAGES[@]}"
                "${BROWSER_PACKAGES[@]}" "${CONTAINER_PACKAGES[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [--build | --build-gtest | --no-containers]" >&2; exit 2 ;;
esac
if [ -n "${XAI_LIBTORCH_DIR:-}" ]; then
  [ -f "$XAI_LIBTORCH_DIR/share/cmake/Torch/TorchConfig.cmake" ] || {
    echo "install-deps: XAI_LIBTORCH_DIR=$XAI_LIBTORCH_DIR holds no LibTorch" >&2
    exit 2
  }
  kept=()
  # (and OpenBLAS: PyTorch's LibTorch brings its own BLAS)
  for p in "${PACKAGES[@]}"; do
    case "$p" in libtorch-dev | libopenblas0-openmp) ;; *) kept+=("$p") ;; esac
  done
  PACKAGES=("${kept[@]}")
fi

# The deploy and browser tests run node and npm: Debian's, unless the machine
# already has them (e.g. NodeSource's nodejs, which bundles npm and conflicts with
# Debian's npm package).
if [ "${1:-}" = "" ] && ! { command -v node && command -v npm; } >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The headers the build includes, at the version of apt's lists, as in the images' build
# stages made from the same archive (docker/Dockerfile): scripts/container-test.sh lends the
# image build this machine's ccache, which hits only where every included header is the
# same (a machine's older libssl-dev, zlib1g-dev or linux-libc-dev changes every object that
# includes them). So the full install also upgrades the -dev packages the build packages
# depend on where apt's lists know a newer version; the check reads the lists already on
# the machine (no download, about 2 s).
stale_headers() {
  [ "${1:-}" = "" ] || return 0
  local closure upgradable
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
              --no-breaks --no-replaces --no-enhances "${BUILD_PACKAGES[@]}" 2>/dev/null |
            grep -E '^[a-z0-9][a-z0-9.+-]*-dev$' | sort -u)
  upgradable=$(apt list --upgradable 2>/dev/null | grep / | cut -d/ -f1 | sort -u)
  comm -12 <(echo "$closure") <(echo "$upgradable")
}
mapfile -t stale < <(stale_headers "${1:-}")

if [ ${#missing[@]} -eq 0 ] && [ ${#stale[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
mapfile -t stale < <(stale_headers "${1:-}")  # with the lists just updated
if [ ${#stale[@]} -gt 0 ]; then
  echo "install-deps: upgrading the build's headers to the archive's version: ${stale[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends --only-upgrade "${stale[@]}"
fi
