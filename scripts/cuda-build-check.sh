#!/usr/bin/env bash
# Compile-checks the CUDA build on a machine without a GPU: installs pip's CUDA torch (the release
# setup.sh installs on a GPU machine) with the NVIDIA wheels whose headers the build includes into
# its own environment (default .venv-cuda; its other dependencies are not needed to compile),
# builds the addon against it into a scratch copy, and checks that the build has CUDA, NCCL and
# CUDA graphs and that every engine symbol it needs is defined by that libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-cuda}
torch=$(sed -n 's/^torch_cuda=(\(torch==[^ ]*\) .*/\1/p' scripts/setup.sh)
[ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
"$venv/bin/python3" -m pip install -q --retries 2 --no-deps "$torch" nvidia-cuda-runtime nvidia-cuda-crt nvidia-cuda-cccl \
  nvidia-nccl-cu13 nvidia-cudnn-cu13 nvidia-cublas nvidia-cusparse nvidia-cusolver nvidia-curand nvidia-cufft
libtorch=$(cd "$venv"/lib/python3*/site-packages/torch && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r native package.json "$scratch/"
rm -rf "$scratch/native/build"
ln -s "$PWD/node_modules" "$scratch/node_modules"
defines=$(cd "$scratch/native" && LIBTORCH=$libtorch node libtorch.cjs defines)
echo "cuda-build-check: $torch, defines: $defines"
case "$defines" in *MICRONET_CUDA=1*MICRONET_NCCL=1*) ;; *) echo "cuda-build-check: the build has no CUDA or no NCCL" >&2; exit 1 ;; esac
(cd "$scratch" && LIBTORCH=$libtorch npm run build:native >"$scratch/build.log" 2>&1) \
  || { tail -30 "$scratch/build.log" >&2; exit 1; }
addon="$scratch/native/build/Release/micronet_native.node"
# Every c10/ATen/torch/c10d symbol the addon takes from the engine must be defined there.
nm -D --defined-only "$libtorch"/lib/lib{c10,c10_cuda,torch,torch_cpu,torch_cuda}.so 2>/dev/null | awk '{print $3}' | sort -u >"$scratch/defined"
missing=$(nm -D --undefined-only "$addon" | awk '{print $2}' | sed 's/@.*//' | grep -E '^_ZN(K)?(3c10|2at|5torch|4c10d)' | sort -u | comm -23 - "$scratch/defined")
if [ -n "$missing" ]; then echo "cuda-build-check: undefined in $libtorch:" >&2; echo "$missing" | c++filt >&2; exit 1; fi
used=$(nm -D --undefined-only "$addon" | c++filt)
for symbol in 'c10d::ProcessGroupNCCL::ProcessGroupNCCL' 'at::cuda::CUDAGraph::capture_begin' 'c10d::Reducer::Reducer'; do
  grep -qF "$symbol" <<<"$used" || { echo "cuda-build-check: the addon does not use $symbol" >&2; exit 1; }
done
echo "cuda-build-check: the CUDA build compiles with NCCL and CUDA graphs against $torch"
