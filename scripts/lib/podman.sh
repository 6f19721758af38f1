# Sourced by the container scripts: podman set up for these machines, and Debian base
# images made without an image registry.

# podman and mmdebstrap, installed like every other dependency where they are missing.
command -v podman >/dev/null && command -v mmdebstrap >/dev/null ||
  bash "$(dirname "${BASH_SOURCE[0]}")/../install-deps.sh"

# crun fails on hybrid cgroups, and there is no systemd: docker/containers.conf says runc,
# cgroupfs and file events. podman cannot raise these limits here: give them explicitly.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docker/containers.conf}
PODMAN_LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# make_base_image SUITE TAG WORKDIR: unless podman has TAG, makes it from Debian SUITE
# (bookworm, trixie) with mmdebstrap, from this machine's own apt sources with the suite
# names replaced, so that no registry and no mirror is named here.
make_base_image() {
  local suite=$1 tag=$2 work=$3
  podman image exists "$tag" && return 0
  local host_suite
  host_suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  local sources=$work/$suite.sources
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    cat /etc/apt/sources.list.d/*.sources | sed "s/\b$host_suite\b/$suite/g" >"$sources"
  else
    sources=$work/$suite.list
    grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed "s/\b$host_suite\b/$suite/g" >"$sources"
  fi
  echo "making $tag with mmdebstrap ($suite)"
  local start=$SECONDS
  mmdebstrap --quiet --variant=apt "$suite" - "$sources" | podman import - "$tag" >/dev/null
  echo "made $tag in $((SECONDS - start)) s"
}

# podman_build TAG DOCKERFILE BASE LOG [podman build args...]: builds the image from the
# repository root.
podman_build() {
  local tag=$1 dockerfile=$2 base=$3 log=$4
  shift 4
  podman build --format docker --network host "${PODMAN_LIMITS[@]}" --build-arg BASE="$base" \
    "$@" -f "$dockerfile" -t "$tag" . >"$log" 2>&1
}

# host_ccache_args: the podman build arguments that lend this machine's ccache to
# docker/Dockerfile's build stage (nothing where the host has no ccache).
host_ccache_args() {
  command -v ccache >/dev/null || return 0
  local dir
  dir=$(ccache -k cache_dir 2>/dev/null) || return 0
  mkdir -p "$dir"
  echo "-v $dir:/host-ccache --build-arg XAI_CCACHE_DIR=/host-ccache"
}

# prune_dangling: removes the images that no tag and no other image reference (the earlier
# builds of a tag, a multi-stage build's builder stage), which otherwise take gigabytes of
# disk at every run.
prune_dangling() {
  podman image prune -f >/dev/null 2>&1 || true
}
