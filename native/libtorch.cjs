// Locates the libtorch to build against and prints one gyp setting.
//   LIBTORCH=/dir             an unpacked official libtorch (CPU or CUDA): /dir/include, /dir/lib
//   (otherwise)               the torch package of the project's python (torch-python.cjs): pip's
//                             wheel holds the official libtorch, headers included
//   LIBTORCH_CXX11_ABI=0|1    overrides the C++ ABI detected from libc10.so
// Tested: libtorch 2.13 and 2.14; other 2.x releases build with a warning, 1.x is refused.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { torchPython } = require('./torch-python.cjs');

const key = process.argv[2];

function fail(msg) {
  process.stderr.write(`micronet native build: ${msg}\n`);
  process.exit(1);
}

function locate() {
  if (process.env.LIBTORCH) {
    const root = path.resolve(process.env.LIBTORCH);
    return {
      includes: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')],
      lib: path.join(root, 'lib'),
    };
  }
  const python = torchPython();
  let root;
  try {
    root = execFileSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (_e) {
    fail(
      `no torch in ${python}: run scripts/setup.sh (it installs PyTorch into .venv), or set MICRONET_TORCH_PYTHON to a python with torch, or LIBTORCH=/path/to/libtorch`,
    );
  }
  return {
    includes: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')],
    lib: path.join(root, 'lib'),
  };
}

const where = locate();
const has = (name) => fs.existsSync(path.join(where.lib, name));
if (!has('libc10.so') || !has('libtorch_cpu.so')) fail(`no libc10.so / libtorch_cpu.so in ${where.lib}`);
if (!fs.existsSync(path.join(where.includes[0], 'ATen/ATen.h'))) fail(`no ATen/ATen.h under ${where.includes[0]}`);

// The release, from the headers: 2.13 and 2.14 are tested; other 2.x releases build with a warning.
function version() {
  for (const rel of ['torch/headeronly/version.h', 'torch/csrc/api/include/torch/version.h']) {
    const file = path.join(where.includes[0], rel);
    if (!fs.existsSync(file)) continue;
    const m = /#define TORCH_VERSION_MAJOR (\d+)[\s\S]*#define TORCH_VERSION_MINOR (\d+)/.exec(
      fs.readFileSync(file, 'utf8'),
    );
    if (m) return [Number(m[1]), Number(m[2])];
  }
  fail(`cannot tell the libtorch release under ${where.includes[0]} (no torch/headeronly/version.h)`);
}
const [major, minor] = version();
if (major < 2)
  fail(`libtorch ${major}.${minor} is too old: micronet needs libtorch 2.x (scripts/setup.sh installs it)`);
if (key === 'defines' && (major > 2 || minor < 13 || minor > 14)) {
  process.stderr.write(
    `micronet native build: warning: libtorch ${major}.${minor} is untested (micronet is tested on 2.13 and 2.14)\n`,
  );
}

function cxx11Abi() {
  const forced = process.env.LIBTORCH_CXX11_ABI;
  if (forced === '0' || forced === '1') return forced;
  // Libraries built with the new ABI carry std::__cxx11 in their mangled symbol names.
  return fs.readFileSync(path.join(where.lib, 'libc10.so')).includes('__cxx11') ? '1' : '0';
}

const cuda = has('libtorch_cuda.so');
// Where a pip torch lies, beside the NVIDIA wheels of the versions it was built with.
const site = path.resolve(where.lib, '..', '..');

// CUDA's headers, which libtorch's CUDA headers include (the runtime's, and cuSPARSE's and cuBLAS's
// through c10d's NCCL backend): CUDA_HOME, the NVIDIA wheels beside a pip torch, or the toolkit's
// usual place.
function cudaIncludes() {
  const candidates = [
    process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'include'),
    ...['nvidia/cu13/include', 'nvidia/cuda_runtime/include'].map((sub) => path.join(site, sub)),
    '/usr/local/cuda/include',
  ].filter(Boolean);
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h')));
  if (!found)
    fail(`${where.lib} has CUDA, but no cuda_runtime_api.h was found in ${candidates.join(', ')}: set CUDA_HOME`);
  return [found];
}

// NCCL's header, for c10d's NCCL backend: the nvidia-nccl wheel beside a pip torch, or CUDA_HOME.
function ncclIncludes() {
  const candidates = [
    path.join(site, 'nvidia/nccl/include'),
    path.join(site, 'nvidia/cu13/include'),
    ...[process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d, 'include')),
    '/usr/include',
  ];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'nccl.h')));
  if (!found && key === 'defines')
    process.stderr.write(
      `micronet native build: warning: ${where.lib} has CUDA but no nccl.h was found (${candidates.join(', ')}): building without NCCL\n`,
    );
  return found ? [found] : [];
}
const nccl = cuda ? ncclIncludes() : [];

const libs = ['-ltorch', '-ltorch_cpu', '-lc10', ...(cuda ? ['-ltorch_cuda', '-lc10_cuda'] : [])];
const settings = {
  includes: [...where.includes, ...(cuda ? cudaIncludes() : []), ...nccl],
  defines: [
    `_GLIBCXX_USE_CXX11_ABI=${cxx11Abi()}`,
    `MICRONET_CUDA=${cuda ? 1 : 0}`,
    `MICRONET_NCCL=${nccl.length ? 1 : 0}`,
  ],
  // --no-as-needed keeps libtorch_cuda linked although no symbol of it is named: it registers the CUDA kernels.
  ldflags: [`-L${where.lib}`, `-Wl,-rpath,${where.lib}`, '-Wl,--no-as-needed'],
  libraries: libs,
};
if (!(key in settings)) fail(`unknown setting ${key}`);
process.stdout.write(`${settings[key].join(' ')}\n`);
