// The main job: the smoke recipe end to end on generated data learns and prunes on schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRecipe } from '../src/recipes/index.js';
import { scratchDir } from './support/googlenet-oracle.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('micronet smoke: without CIFAR-100 it trains on generated data, learns, prunes on schedule and scores', () => {
  const dir = scratchDir();
  const empty = join(dir, 'no-cifar');
  mkdirSync(empty);
  const out = join(dir, 'run');
  const run = spawnSync(process.execPath, [cli, 'smoke', '--data', empty, '--out', out], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /CIFAR-100 is not in .*: the smoke recipe runs on a generated CIFAR-100-format set/);
  const top1 = Number(/final: test top-1 ([\d.]+)%/.exec(run.stdout)![1]);
  assert.ok(top1 > 20, `test top-1 ${top1}% (chance: 1%)`);
  assert.match(run.stdout, /MicroNet score \(official rules, 16-bit\): 0\.\d+/);
  assert.match(run.stdout, /MicroNet score \(id56 rules, 16-bit\): 0\.\d+/);

  const history = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; sparsity: number });
  const recipe = findRecipe('smoke');
  assert.equal(history.length, recipe.epochs);
  const firstPrune = Math.min(...recipe.pruning.events.map((e) => e.epoch));
  for (const h of history) {
    if (h.epoch < firstPrune) assert.equal(h.sparsity, 0, `epoch ${h.epoch} is before pruning`);
    else assert.ok(h.sparsity > 0.05, `epoch ${h.epoch}: sparsity ${h.sparsity}`);
  }
  // Sparsity only grows through the pruning events, then holds during fine-tuning.
  for (let i = 1; i < history.length; i++) assert.ok(history[i]!.sparsity >= history[i - 1]!.sparsity);
  const lastPrune = Math.max(...recipe.pruning.events.map((e) => e.epoch));
  assert.equal(history.at(-1)!.sparsity, history[lastPrune - 1]!.sparsity);
});
