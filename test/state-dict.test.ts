// What loading a state dict refuses: non-finite values, dtypes of another kind, configurations
// beyond sane bounds; and how it reports long lists of problems.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { loadModelCheckpoint, saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { writeSynthetic } from '../src/data/index.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { buildModel } from '../src/models/registry.js';
import { scratchDir } from './support/scratch.js';
import { cli } from './support/cli.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** A small googlenet checkpoint, with one tensor replaced. */
function checkpointWith(key: string, replace: (t: T.Tensor) => T.Tensor): string {
  const { model, config } = buildModel('googlenet', { width: 0.0625 }, { generator: new T.Generator(2) });
  const path = join(scratchDir(), 'm.safetensors');
  saveModelCheckpoint(path, model, 'googlenet', config);
  model.dispose();
  const file = readSafetensors(path);
  file.tensors.set(key, replace(file.tensors.get(key)!));
  writeSafetensors(path, file.tensors, file.metadata);
  return path;
}

test('non-finite weights are refused on load, naming the tensor; prune and eval write and print nothing', () => {
  const path = checkpointWith('a3.b2.3.weight', (t) => T.noGrad(() => t.clone().fill_(Number.NaN)));
  assert.throws(
    () => loadModelCheckpoint(path),
    new RegExp(`cannot load state dict from ${path}: non-finite values \\(NaN or infinity\\) in a3\\.b2\\.3\\.weight`),
  );
  const inf = checkpointWith('linear.bias', (t) => T.tensor(new Float32Array(t.numel).fill(Number.POSITIVE_INFINITY)));
  assert.throws(() => loadModelCheckpoint(inf), /non-finite values \(NaN or infinity\) in linear\.bias/);

  const out = join(scratchDir(), 'pruned.safetensors');
  const prune = run('prune', '--checkpoint', path, '--out', out);
  assert.equal(prune.status, 1);
  assert.match(prune.stderr, /non-finite values .* in a3\.b2\.3\.weight/);
  assert.equal(prune.stdout, '');
  assert.equal(existsSync(out), false);
  const data = join(scratchDir(), 'data');
  writeSynthetic(data, { train: 8, test: 8 });
  const evaluated = run('eval', '--checkpoint', path, '--data', data, '--json');
  assert.equal(evaluated.status, 1);
  assert.match(evaluated.stderr, /non-finite values/);
});

test('a tensor of another dtype kind is refused like a wrong shape', () => {
  const path = checkpointWith('linear.weight', (t) => t.to('int32'));
  assert.throws(() => loadModelCheckpoint(path), /wrong dtype: linear\.weight: expected float32, got int32/);
  // A floating dtype of another width is converted, as PyTorch's load_state_dict does.
  const half = checkpointWith('linear.weight', (t) => t.to('bfloat16'));
  const loaded = loadModelCheckpoint(half);
  assert.equal(loaded.model.stateDict().get('linear.weight')!.dtype, 'float32');
  loaded.model.dispose();
});

test('long lists of missing keys are summarised', () => {
  const { model } = buildModel('googlenet', { width: 0.0625 });
  assert.throws(
    () => model.loadStateDict(new Map()),
    (e: Error) =>
      /missing: prelayer\.0\.weight, prelayer\.0\.mask, prelayer\.0\.bias, .* and 509 more \(515 in all\)$/.test(
        e.message,
      ) && e.message.length < 400,
  );
  model.dispose();
});

test('checkpoint metadata is checked against sane bounds before any model is built', () => {
  const path = checkpointWith('linear.bias', (t) => t);
  const file = readSafetensors(path);
  for (const [config, problem] of [
    [{ width: 10000 }, /width must be in \(0, 4\], got 10000/],
    [{ numClasses: -1 }, /numClasses must be an integer/],
    [{ widht: 1 }, /model googlenet has no option 'widht'/],
  ] as const) {
    writeSafetensors(path, file.tensors, { ...file.metadata, config: JSON.stringify(config) });
    const before = process.memoryUsage().rss;
    assert.throws(
      () => loadModelCheckpoint(path),
      (e: Error) =>
        e.message.startsWith(`${path}: its metadata describes no buildable model`) && problem.test(e.message),
    );
    assert.ok(process.memoryUsage().rss - before < 100 * 2 ** 20, 'nothing large was allocated');
  }
});
