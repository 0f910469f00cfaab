#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and python3's torch built with CUDA: builds the addon against
# that torch, runs the CUDA tests (a captured training step against the eager one among them) and
# `micronet bench --device cuda --json`. Pass --compile to time torch.compile as well.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "python3 torch sees no CUDA GPU")'
LIBTORCH_USE_PYTORCH=1 npm run build:native
npm run build
MICRONET_TORCH_PYTHON=$(command -v python3) node --test --test-concurrency=1 dist/test/cuda.test.js
MICRONET_TORCH_PYTHON=$(command -v python3) node dist/src/cli/main.js bench --device cuda --json "$@"
