#!/usr/bin/env bash
# Makes, ahead of the container tests, what they need that does not depend on the build:
# the Debian 12 and 13 base images (mmdebstrap) and the package stages of docker/Dockerfile
# and docker/Dockerfile.libtorch2 (apt: mostly downloads). scripts/test.sh runs it beside
# the host's build, so that a cold run downloads while it compiles; the `container` and
# `libtorch2` tests then find both in podman's cache. A second run finds everything made
# and takes seconds. A failure here is reported and left to those tests, which make what
# is missing themselves.
#
#   scripts/lib/prepare-images.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/podman.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$SECONDS
make_base_image bookworm localhost/debian:12 "$work"
podman_build localhost/xai-serve-packages:test docker/Dockerfile localhost/debian:12 \
  "$work/packages.log" --target packages || { tail -20 "$work/packages.log"; exit 1; }
make_base_image trixie localhost/debian:13 "$work"
podman_build localhost/xai-serve-libtorch2-packages:test docker/Dockerfile.libtorch2 \
  localhost/debian:13 "$work/libtorch2-packages.log" --target packages ||
  { tail -20 "$work/libtorch2-packages.log"; exit 1; }
echo "prepare-images: the base images and the package stages ready in $((SECONDS - start)) s"
