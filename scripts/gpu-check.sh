#!/usr/bin/env bash
# The GPU check, as one command, for a machine with an NVIDIA GPU and a CUDA build of
# PyTorch but no network and none of the server's other dependencies:
#   1. builds the engine and xai-gpu-check against PyTorch's bundled LibTorch (CMake with
#      -DXAI_ENGINE_ONLY=ON; a direct compiler call when CMake cannot configure it);
#   2. makes the fixture models with that PyTorch (tools/make_fixtures.py);
#   3. runs xai-gpu-check: CUDA maps against CPU maps, FP16/BF16 against FP32, batched
#      Grad-CAM against the batched forward, two instances against one, DecisionPath against
#      the forward, SCORE_CAM, the faithfulness metrics and ABLATION_CAM's two paths against
#      the CPU, pixel attributions (IG fixed and adaptive, SmoothGrad, GradientShap) against
#      the CPU, peak device memory (docs/PERFORMANCE.md, "GPU").
#
# Usage: scripts/gpu-check.sh [--out DIR] [--device cuda:N] [--quick]
#   --out DIR     where the build, the fixtures and the logs go (default build-gpu)
#   --device      the GPU to check (default cuda:0)
#   --quick       fewer inputs and repetitions (a smoke run)
# Environment: XAI_GPU_PYTHON, the Python whose torch is the CUDA build (default python3).
# Writes DIR/gpu-check.txt (what it printed), DIR/gpu-check.json (every figure) and
# DIR/build.log. Exit status: xai-gpu-check's (0 when every correctness check passed), or 3
# when the machine lacks what the check needs. Takes 3-6 minutes on 16 cores and an H100.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-gpu
device=cuda:0
quick=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${XAI_GPU_PYTHON:-python3}
log() { echo "gpu-check: $*" >&2; }
start=$SECONDS

# What PyTorch is here, and whether it sees the GPU.
if ! "$py" - >"$out/torch.env" <<'EOF'
import os, shlex, torch
values = {
    "TORCH_VERSION": torch.__version__,
    "TORCH_DIR": os.path.dirname(torch.__file__),
    "TORCH_CMAKE": torch.utils.cmake_prefix_path,
    "TORCH_ABI": str(int(torch._C._GLIBCXX_USE_CXX11_ABI)),
    "TORCH_CUDA": torch.version.cuda or "",
    "TORCH_GPU": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "",
}
for key, value in values.items():
    print("%s=%s" % (key, shlex.quote(value)))
EOF
then
  log "$py cannot import torch; set XAI_GPU_PYTHON to the Python of a CUDA build of PyTorch"
  exit 3
fi
# shellcheck disable=SC1091
source "$out/torch.env"
# XAI_GPU_CHECK_ALLOW_CPU=1 with --device cpu: the script's own smoke run on a CPU build.
if [[ -z "$TORCH_CUDA" || -z "$TORCH_GPU" ]] && [[ "${XAI_GPU_CHECK_ALLOW_CPU:-}" != 1 ]]; then
  log "PyTorch $TORCH_VERSION here has CUDA '${TORCH_CUDA}' and sees GPU '${TORCH_GPU}': a CUDA build and a GPU are needed"
  exit 3
fi
log "PyTorch $TORCH_VERSION (CUDA $TORCH_CUDA) on $TORCH_GPU; $(nproc) cores"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
  --format=csv,noheader | sed 's/^/gpu-check: GPU: /' >&2 || true

# LibTorch 2.13 and later need C++20; older ones build as the project does, with C++17.
std=17
major=${TORCH_VERSION%%.*}
minor=${TORCH_VERSION#*.}
minor=${minor%%.*}
if ((major > 2 || (major == 2 && minor >= 13))); then std=20; fi
jobs=$(nproc)
build=$out/build
binary=$build/xai-gpu-check

cmake_build() {
  local cuda_root=()
  [[ -d /usr/local/cuda ]] && cuda_root=(-DCUDAToolkit_ROOT=/usr/local/cuda)
  cmake -S . -B "$build" -DXAI_ENGINE_ONLY=ON -DXAI_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_STANDARD="$std" -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" "${cuda_root[@]}" "$@" &&
    cmake --build "$build" --target xai-gpu-check -j "$jobs"
}

# Without CMake's Torch package: the engine's sources and the check compiled directly
# against torch's headers and libraries.
direct_build() {
  local flags=(-std=c++$std -O2 -g0 -fPIC -D_GLIBCXX_USE_CXX11_ABI="$TORCH_ABI" -I.
    -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include" "$@")
  local cuda_libs=(-ltorch_cuda -lc10_cuda)
  [[ -z "$TORCH_CUDA" ]] && cuda_libs=()
  [[ -d /usr/local/cuda/include ]] && flags+=(-isystem /usr/local/cuda/include)
  mkdir -p "$build/direct"
  local sources
  # Every engine source (core/base, core/runtime, core/methods and their folders).
  sources=$(find core/base core/runtime core/methods -name '*.cc' | sort; echo bench/gpu_check/gpu_check.cc)
  # shellcheck disable=SC2086
  printf '%s\n' $sources | xargs -P "$jobs" -I{} sh -c \
    'f={}; o="$0/$(echo "$f" | tr / _).o"; exec g++ "$@" -c "$f" -o "$o"' "$build/direct" "${flags[@]}" &&
    g++ -o "$binary" "$build"/direct/*.o -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" \
      -Wl,--no-as-needed "${cuda_libs[@]}" -ltorch -ltorch_cpu -lc10 -Wl,--as-needed -lpthread
}

log "building the engine and xai-gpu-check against PyTorch's LibTorch (C++$std, $jobs jobs)"
{
  if cmake_build; then
    echo "built with CMake"
  elif cmake_build -DCMAKE_CXX_FLAGS=-DXAI_NO_CUDA_STATS; then
    echo "built with CMake, without the CUDA allocator's statistics"
  elif direct_build; then
    echo "built directly (CMake could not configure or build it)"
  elif direct_build -DXAI_NO_CUDA_STATS; then
    echo "built directly, without the CUDA allocator's statistics"
  else
    echo "BUILD FAILED"
  fi
} >"$out/build.log" 2>&1
tail -n 1 "$out/build.log" | sed 's/^/gpu-check: /' >&2
if [[ ! -x "$binary" ]] || grep -q "BUILD FAILED" "$out/build.log"; then
  grep -m 20 -E "error|Error" "$out/build.log" >&2 || tail -n 30 "$out/build.log" >&2
  exit 3
fi
log "built in $((SECONDS - start)) s"

# The fixture models, made with this PyTorch (resnet18 with seeded random weights, and the
# bundled demo model linked in).
fixtures=$out/fixtures
if ! "$py" tools/make_fixtures.py --out "$fixtures" --demo-model models/shapes >"$out/fixtures.log" 2>&1; then
  log "tools/make_fixtures.py failed (see fixtures.log); exporting resnet18 alone"
  tail -n 5 "$out/fixtures.log" >&2
  "$py" - "$fixtures" <<'EOF'
import os, sys, torch, torchvision
repo = os.path.join(sys.argv[1], "repo")
os.makedirs(os.path.join(repo, "resnet18", "1"), exist_ok=True)
torch.manual_seed(0)
resnet = torchvision.models.resnet18(num_classes=1000).eval()
torch.jit.trace(resnet, torch.randn(1, 3, 224, 224)).save(os.path.join(repo, "resnet18", "1", "model.pt"))
shapes = os.path.join(repo, "shapes")
if not os.path.exists(shapes):
    os.symlink(os.path.abspath("models/shapes"), shapes)
EOF
fi

log "running xai-gpu-check on $device"
set +e
"$binary" --fixtures "$fixtures" --device "$device" --json "$out/gpu-check.json" "${quick[@]}" 2>&1 |
  tee "$out/gpu-check.txt"
status=${PIPESTATUS[0]}
set -e
log "finished in $((SECONDS - start)) s with status $status"
exit "$status"
