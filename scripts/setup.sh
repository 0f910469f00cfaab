#!/usr/bin/env bash
# Installs what micronet needs and is missing: Debian's libtorch (the engine) with Gloo's headers
# (its data-parallel backend), python3-torch and python3-torchvision (the reference the tests and
# benchmarks compare against) and Chromium (the report tests render in it headless), then the npm
# packages and the native addon. Safe to run again: it only does what is not done yet.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libtorch-dev libgloo-dev python3-torch python3-torchvision g++ make python3 chromium)
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

# Where python3's torch was built with CUDA (a GPU machine with pip's torch), the addon is built
# against it, so that micronet trains on the GPU; elsewhere against Debian's libtorch.
if [ -z "${LIBTORCH:-}" ] && [ -z "${LIBTORCH_USE_PYTORCH:-}" ] \
  && python3 -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  echo "micronet setup: python3's torch has CUDA: building the addon against it"
  export LIBTORCH_USE_PYTORCH=1
fi

# npm ci also builds the native addon (the package's install script).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
elif [ ! -f native/build/Release/micronet_native.node ]; then
  npm run build:native
fi
npm run --silent build
