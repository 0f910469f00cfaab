#!/usr/bin/env bash
# Installs what micronet needs and is missing, then builds it. Safe to run again: it only does what
# is not done yet.
#  - Debian packages: a C++ compiler, python3's venv, Gloo's headers (the types of libtorch's Gloo
#    backend, for data-parallel training) and Chromium (the report tests render in it headless).
#  - PyTorch 2.x with torchvision, from pip, into the project's environment .venv: the engine the
#    addon links, and the reference of the tests and benchmarks. The CPU build where no NVIDIA GPU
#    is present, the CUDA build (with cuDNN and NCCL) where one is; MICRONET_TORCH=cpu|cuda decides
#    instead. Where python3 already has a CUDA torch (a GPU machine's image), that one is used.
#  - ONNX's checker (Python) for the export tests.
#  - The npm packages (onnxruntime-node's CPU binary included) and the native addon, built
#    against that torch.
set -euo pipefail
cd "$(dirname "$0")/.."

# The releases micronet is tested on (native/libtorch.cjs warns on others).
torch_cpu=(torch==2.13.0 torchvision==0.28.0)
torch_cuda=(torch==2.14.1 torchvision==0.29.1)
cpu_index=https://download.pytorch.org/whl/cpu

packages=(g++ make python3 python3-venv libgloo-dev chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "micronet setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

gpu=0
if [ -e /dev/nvidiactl ] || { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then gpu=1; fi
flavour=${MICRONET_TORCH:-$([ $gpu = 1 ] && echo cuda || echo cpu)}
case "$flavour" in cpu|cuda) ;; *) echo "micronet setup: MICRONET_TORCH must be cpu or cuda, not '$flavour'" >&2; exit 1 ;; esac

if [ -n "${MICRONET_TORCH_PYTHON:-}" ] || [ -n "${LIBTORCH:-}" ]; then
  echo "micronet setup: using the torch of ${MICRONET_TORCH_PYTHON:-LIBTORCH=$LIBTORCH}"
elif [ ! -e .venv ] && [ "$flavour" = cuda ] \
  && python3 -c 'import sys, torch; sys.exit(0 if torch.version.cuda and torch.__version__ >= "2" else 1)' 2>/dev/null; then
  echo "micronet setup: python3's torch has CUDA: the addon is built against it"
  export MICRONET_TORCH_PYTHON
  MICRONET_TORCH_PYTHON=$(command -v python3)
else
  want=("${torch_cpu[@]}")
  [ "$flavour" = cuda ] && want=("${torch_cuda[@]}")
  have=$(.venv/bin/python3 -c 'import torch; print("torch==" + torch.__version__.split("+")[0], "cuda" if torch.version.cuda else "cpu")' 2>/dev/null || true)
  if [ "$have" != "${want[0]} $flavour" ]; then
    echo "micronet setup: installing ${want[*]} ($flavour) into .venv"
    [ -x .venv/bin/python3 ] || python3 -m venv .venv
    extra=()
    # pip's default torch for Linux is the CUDA build; the CPU build lives on PyTorch's own index.
    [ "$flavour" = cpu ] && extra=(--extra-index-url "$cpu_index")
    .venv/bin/python3 -m pip install -q --retries 2 "${extra[@]}" "${want[@]}"
    rm -rf native/build  # built against another torch
  fi
fi

# ONNX's own checker, the oracle of the export tests (skipped where absent).
if [ -x .venv/bin/python3 ] && ! .venv/bin/python3 -c 'import onnx' 2>/dev/null; then
  echo "micronet setup: installing onnx into .venv"
  .venv/bin/python3 -m pip install -q --retries 2 onnx==1.23.1
fi

# npm ci also builds the native addon (the package's install script). onnxruntime-node ships its
# CPU binary; its install script would download CUDA parts, which micronet does not use.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm ci
elif [ ! -f native/build/Release/micronet_native.node ]; then
  npm run build:native
fi
npm run --silent build
