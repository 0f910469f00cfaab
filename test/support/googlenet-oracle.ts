// Runs python/googlenet.py (PyTorch's version of the seed network) on safetensors files.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/torch/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { torchPython } from './oracle.js';
import { scratchDir } from './scratch.js';

const script = fileURLToPath(new URL('../../../python/googlenet.py', import.meta.url));

/** Runs a command of googlenet.py with tensors in and files out; returns the output tensors. */
export function runGoogLeNetOracle(
  command: string,
  weights: Map<string, T.Tensor>,
  inputs: Record<string, T.Tensor>,
  extraArgs: string[] = [],
): Map<string, T.Tensor> {
  const dir = scratchDir();
  const w = join(dir, 'weights.safetensors');
  const i = join(dir, 'inputs.safetensors');
  const o = join(dir, 'out.safetensors');
  writeSafetensors(w, weights);
  writeSafetensors(i, new Map(Object.entries(inputs)));
  execFileSync(torchPython, [script, command, w, i, ...extraArgs, o, String(T.getNumThreads())], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return readSafetensors(o).tensors;
}
