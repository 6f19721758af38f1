#!/usr/bin/env bash
# Generates the gRPC stubs of xai_client from the project's protos with Debian's protoc
# and grpc_python_plugin (packages protobuf-compiler and protobuf-compiler-grpc), into
# xai_client/_proto/ (not tracked). Run it once after a checkout and again when a proto
# changes; idempotent. The generated modules import each other as xai.v1 and
# grpc.health.v1: their imports are rewritten to live under xai_client._proto, so they
# neither need a path entry nor shadow the grpc package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/xai_client/_proto
protos=(xai/v1/feature_layout.proto xai/v1/explainer.proto xai/v1/model_admin.proto grpc/health/v1/health.proto)

command -v protoc >/dev/null || { echo "generate_stubs: protoc missing (apt-get install protobuf-compiler)" >&2; exit 2; }
plugin=$(command -v grpc_python_plugin) ||
  { echo "generate_stubs: grpc_python_plugin missing (apt-get install protobuf-compiler-grpc)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc -I "$root/proto" --python_out="$tmp" --grpc_out="$tmp" \
  --plugin=protoc-gen-grpc="$plugin" "${protos[@]/#/$root/proto/}"
# Packages, and imports under xai_client._proto.
find "$tmp" -type d -exec touch {}/__init__.py \;
find "$tmp" -name '*.py' -exec sed -i -E \
  -e 's/^from (xai|grpc\.health)\.v1 import /from xai_client._proto.\1.v1 import /' {} +
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "generate_stubs: $(find "$out" -name '*_pb2*.py' | wc -l) modules in $out"
