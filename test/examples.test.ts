// The examples in examples/ run as a user would run them (compiled, importing micronet by name),
// on generated data, so that none can rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { writeSynthetic } from '../src/data/index.js';
import { buildModel } from '../src/models/index.js';
import { loadModelCheckpoint, saveModelCheckpoint } from '../src/checkpoint/index.js';
import { sparsity } from '../src/prune/index.js';
import { scratchDir } from './support/scratch.js';
import { torchPython } from './support/oracle.js';
import { cli } from './support/cli.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
const run = (file: string, ...args: string[]) => spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
const dir = scratchDir();
const data = join(dir, 'data');
writeSynthetic(data, { train: 640, test: 128, seed: 4 });

test('examples/train-small-cnn trains a custom CNN with the loader and SGD, and it learns', () => {
  const r = run(example('train-small-cnn'), data, '3');
  assert.equal(r.status, 0, r.stderr);
  const epochs = [...r.stdout.matchAll(/epoch (\d): train loss ([\d.]+), test top-1 ([\d.]+)% of 128/g)].map((m) => ({
    loss: Number(m[2]),
    top1: Number(m[3]),
  }));
  assert.equal(epochs.length, 3, r.stdout);
  assert.ok(epochs[2]!.loss < epochs[0]!.loss, `train loss falls: ${r.stdout}`);
  assert.ok(epochs[2]!.top1 > 5, `above chance (1%): ${r.stdout}`);
  assert.equal(run(example('train-small-cnn')).status, 2, 'usage without a data directory');
});

test('examples/prune-and-score prunes a checkpoint, scores it before and after, and saves it', () => {
  const { model, config } = buildModel('googlenet', { width: 0.125 }, { generator: new T.Generator(2) });
  const path = join(dir, 'model.safetensors');
  saveModelCheckpoint(path, model, 'googlenet', config);
  model.dispose();
  const out = join(dir, 'pruned.safetensors');
  const r = run(example('prune-and-score'), path, '0.5', out);
  assert.equal(r.status, 0, r.stderr);
  const pruned = loadModelCheckpoint(out).model;
  const s = sparsity(pruned);
  assert.match(r.stdout, new RegExp(`sparsity ${((100 * s.zeros) / s.total).toFixed(2)}% of ${s.total} weights`));
  const [, before, after] = /score ([\d.]+) -> ([\d.]+)/.exec(r.stdout)!;
  assert.ok(Number(after) < Number(before), r.stdout);
  pruned.dispose();
});

test('examples/eval-pth evaluates a torch.save checkpoint as micronet eval does', () => {
  const pth = join(dir, 'entry.pth');
  execFileSync(torchPython, [
    '-c',
    `import torch, sys
sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../python/', import.meta.url)))})
from googlenet import GoogLeNet
torch.manual_seed(0)
torch.save({'epoch': 1, 'model_state_dict': GoogLeNet().state_dict()}, ${JSON.stringify(pth)})`,
  ]);
  const r = run(example('eval-pth'), pth, data);
  assert.equal(r.status, 0, r.stderr);
  const cliRun = JSON.parse(run(cli, 'eval', '--checkpoint', pth, '--data', data, '--json').stdout) as {
    correct1: number;
    count: number;
  };
  assert.match(r.stdout, /515 tensors from 'model_state_dict'/);
  assert.match(r.stdout, new RegExp(`top-1 [\\d.]+% \\(${cliRun.correct1}/${cliRun.count}\\)`));
});
