#!/usr/bin/env bash
# Renders deploy/ (the cpu and gpu overlays, and each with an optional component) with
# kustomize and validates every object offline against the Kubernetes API schema (npm's
# kubernetes-models, installed here from tests/deploy/package-lock.json), then what a
# schema cannot check: probe and Service ports, selectors, the GPU limit in the GPU overlay
# only, the termination grace against the server's drain and grace, the image names, the
# security context, and with the batch-job component the Job against the server it calls
# (its image, shard count, Service, port and claim). Run by the test command (CTest test
# `deploy`).
#
#   scripts/deploy-test.sh [WORKDIR]     (WORKDIR keeps node_modules between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"

if command -v kustomize >/dev/null; then
  render() { kustomize build --load-restrictor LoadRestrictionsNone "$1"; }
elif command -v kubectl >/dev/null; then
  render() { kubectl kustomize --load-restrictor LoadRestrictionsNone "$1"; }
else
  echo "deploy-test: needs kustomize or kubectl (kubectl kustomize)" >&2
  exit 2
fi
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "deploy-test: needs node and npm" >&2
  exit 2
}

# The validator and its two packages, pinned by the lock file.
cp tests/deploy/package.json tests/deploy/package-lock.json tests/deploy/validate.mjs "$WORK/"
if ! (cd "$WORK" && npm ls --silent >/dev/null 2>&1); then
  (cd "$WORK" && npm ci --no-audit --no-fund --silent)
fi

# The server's drain and grace in the base Deployment's args.
server_seconds=$(($(grep -oE -- '--(drain|shutdown-grace)-seconds=[0-9]+' \
  deploy/base/deployment.yaml | cut -d= -f2 | paste -sd+)))

# An overlay with an optional component, made next to the overlays.
with_component() {  # with_component OVERLAY COMPONENT DIR
  mkdir -p "$3"
  cat >"$3/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="$3" "$ROOT/$1")]
components: [$(realpath --relative-to="$3" "$ROOT/$2")]
YAML
}

status=0
run() {  # run NAME DIR VALIDATOR-ARGS...
  local name=$1 dir=$2
  shift 2
  if ! render "$dir" >"$WORK/$name.yaml" 2>"$WORK/$name.err"; then
    echo "deploy $name: FAIL kustomize: $(cat "$WORK/$name.err")"
    status=1
    return
  fi
  node "$WORK/validate.mjs" "$name" "$WORK/$name.yaml" --server-seconds "$server_seconds" "$@" ||
    status=1
}
run cpu deploy/overlays/cpu --image xai-serve
run gpu deploy/overlays/gpu --gpu --image xai-serve-cuda
with_component deploy/overlays/gpu deploy/components/queue-autoscaling "$WORK/gpu-queue"
run gpu-queue-autoscaling "$WORK/gpu-queue" --gpu --image xai-serve-cuda
with_component deploy/overlays/cpu deploy/components/models-from-image "$WORK/cpu-models-image"
run cpu-models-from-image "$WORK/cpu-models-image" --image xai-serve
with_component deploy/overlays/cpu deploy/components/tls-and-tokens "$WORK/cpu-tls"
run cpu-tls-and-tokens "$WORK/cpu-tls" --image xai-serve --tls
# The batch Job next to the GPU servers: its image, shards, Service and claim (validate.mjs 3).
with_component deploy/overlays/gpu deploy/components/batch-job "$WORK/gpu-batch"
run gpu-batch-job "$WORK/gpu-batch" --gpu --image xai-serve-cuda
exit $status
