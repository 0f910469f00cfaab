#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and python3's torch built with CUDA: builds the addon against
# that torch, runs the CUDA tests (a captured training step against the eager one among them),
# data-parallel runs on the GPU (one rank over NCCL with the captured step, two ranks sharing the
# GPU over Gloo) and `micronet bench --device cuda --json`. Pass --compile to time torch.compile.
set -euo pipefail
cd "$(dirname "$0")/.."
export MICRONET_TORCH_PYTHON=${MICRONET_TORCH_PYTHON:-$(command -v python3)}
"$MICRONET_TORCH_PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "this python'"'"'s torch sees no CUDA GPU")'
npm run build:native
npm run build
node dist/src/cli/main.js --version
node --test --test-concurrency=1 dist/test/cuda.test.js
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
node dist/src/cli/main.js data generate --dir "$scratch/data" --train 2048 --test 256
short=(--recipe smoke --data "$scratch/data" --device cuda --set epochs=2 --set 'schedule.milestones=[2]' --set 'pruning.events=[]')
node dist/src/cli/main.js train "${short[@]}" --out "$scratch/nccl" --nproc 1
node dist/src/cli/main.js train "${short[@]}" --out "$scratch/gloo" --nproc 2 --dist-backend gloo
node dist/src/cli/main.js bench --device cuda --json "$@"
