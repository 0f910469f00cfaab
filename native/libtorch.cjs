// Locates the libtorch to build against and prints one gyp setting.
//   LIBTORCH=/dir             an unpacked official libtorch (CPU or CUDA): /dir/include, /dir/lib
//   LIBTORCH_USE_PYTORCH=1    the torch package of `python3` (pip or Debian)
//   (neither)                 Debian's libtorch-dev under /usr
//   LIBTORCH_CXX11_ABI=0|1    overrides the C++ ABI detected from libc10.so
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function fail(msg) {
  process.stderr.write(`micronet native build: ${msg}\n`);
  process.exit(1);
}

function locate() {
  if (process.env.LIBTORCH) {
    const root = path.resolve(process.env.LIBTORCH);
    return { includes: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')], lib: path.join(root, 'lib') };
  }
  if (process.env.LIBTORCH_USE_PYTORCH === '1') {
    let root;
    try {
      root = execFileSync('python3', ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], { encoding: 'utf8' }).trim();
    } catch (e) {
      fail('LIBTORCH_USE_PYTORCH=1 but `python3 -c "import torch"` failed');
    }
    return { includes: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')], lib: path.join(root, 'lib') };
  }
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];
  const lib = multiarch.find((d) => fs.existsSync(path.join(d, 'libtorch_cpu.so')));
  if (!fs.existsSync('/usr/include/ATen/ATen.h') || !lib) {
    fail('libtorch not found. Install Debian\'s libtorch-dev (apt-get install libtorch-dev), '
      + 'or set LIBTORCH=/path/to/libtorch, or LIBTORCH_USE_PYTORCH=1 to use python3\'s torch.');
  }
  return { includes: ['/usr/include', '/usr/include/torch/csrc/api/include'], lib };
}

const where = locate();
const has = (name) => fs.existsSync(path.join(where.lib, name));
if (!has('libc10.so') || !has('libtorch_cpu.so')) fail(`no libc10.so / libtorch_cpu.so in ${where.lib}`);
if (!fs.existsSync(path.join(where.includes[0], 'ATen/ATen.h'))) fail(`no ATen/ATen.h under ${where.includes[0]}`);

function cxx11Abi() {
  const forced = process.env.LIBTORCH_CXX11_ABI;
  if (forced === '0' || forced === '1') return forced;
  // Libraries built with the new ABI carry std::__cxx11 in their mangled symbol names.
  return fs.readFileSync(path.join(where.lib, 'libc10.so')).includes('__cxx11') ? '1' : '0';
}

const cuda = has('libtorch_cuda.so');

// CUDA's runtime headers, which libtorch's CUDA headers include: CUDA_HOME, the toolkit's usual
// place, or the nvidia-cuda-runtime wheel beside a pip torch.
function cudaIncludes() {
  const candidates = [process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d, 'include'));
  const site = path.resolve(where.lib, '..', '..');
  for (const sub of ['nvidia/cu13/include', 'nvidia/cuda_runtime/include']) candidates.push(path.join(site, sub));
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h')));
  if (!found) fail(`${where.lib} has CUDA, but no cuda_runtime_api.h was found in ${candidates.join(', ')}: set CUDA_HOME`);
  return [found];
}

const libs = ['-ltorch', '-ltorch_cpu', '-lc10', ...(cuda ? ['-ltorch_cuda', '-lc10_cuda'] : [])];
const settings = {
  includes: [...where.includes, ...(cuda ? cudaIncludes() : [])],
  defines: [`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi()}`, `MICRONET_CUDA=${cuda ? 1 : 0}`],
  // --no-as-needed keeps libtorch_cuda linked although no symbol of it is named: it registers the CUDA kernels.
  ldflags: [`-L${where.lib}`, `-Wl,-rpath,${where.lib}`, '-Wl,--no-as-needed'],
  libraries: libs,
};
const key = process.argv[2];
if (!(key in settings)) fail(`unknown setting ${key}`);
process.stdout.write(settings[key].join(' ') + '\n');
