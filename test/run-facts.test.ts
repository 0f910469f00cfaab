// What a run records of itself: the data it trained on (real or generated, and where) and its
// device, in the training checkpoint's state and the model's metadata; and which epoch
// best.safetensors holds (the best at the run's final sparsity, not an earlier, less pruned one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeData, generatedMarker, writeSynthetic } from '../src/data/index.js';
import { applyOverrides } from '../src/recipes/index.js';
import { bestCheckpoint, lastCheckpoint } from '../src/checkpoint/run-dir.js';
import { readTrainState } from '../src/checkpoint/train-file.js';
import { loadModelCheckpoint } from '../src/checkpoint/model-file.js';
import { dataFromMetadata } from '../src/checkpoint/metadata.js';
import { train } from '../src/train/trainer.js';
import { bestEpoch, bestText } from '../src/report/summary.js';
import { scratchDir } from './support/scratch.js';
import { cifar10Split, tinySmoke } from './support/generated.js';
import { runCli } from './support/cli.js';

test('a generated set is told from the real data: smoke says so, and the checkpoints and summary record it', () => {
  const generated = join(scratchDir(), 'generated');
  writeSynthetic(generated, { train: 64, test: 32, seed: 3 });
  assert.ok(existsSync(join(generated, generatedMarker)));
  assert.deepEqual(describeData(generated), { dir: generated, generated: true });
  // The same files without the marker look like the real data, as far as micronet can tell.
  const copied = join(scratchDir(), 'copied');
  cpSync(join(generated, 'cifar-100-binary'), join(copied, 'cifar-100-binary'), { recursive: true });
  assert.deepEqual(describeData(copied), { dir: copied, generated: false });

  const out = join(scratchDir(), 'run');
  const sets = [
    'epochs=1',
    'schedule.milestones=[]',
    'model.config.width=0.0625',
    'data.batchSize=32',
    'data.workers=0',
    'pruning.events=[]',
  ];
  const run = runCli(['smoke', '--data', generated, '--out', out, ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stdout, /CIFAR-100 found/);
  assert.match(run.stdout, /a generated CIFAR-100-format set \(micronet's, not the real data\) found in /);
  assert.ok(run.stdout.includes(`data: generated data in ${generated}\n`), run.stdout);

  const state = readTrainState(lastCheckpoint(out));
  assert.deepEqual(state.data, { dir: generated, generated: true });
  assert.equal(state.device, 'cpu');
  for (const path of [lastCheckpoint(out), bestCheckpoint(out)]) {
    const ckpt = loadModelCheckpoint(path);
    ckpt.model.dispose();
    assert.deepEqual(ckpt.data, { dir: generated, generated: true }, path);
  }
  // A file of an earlier release says nothing of its data; a damaged field is refused, naming the file.
  assert.equal(dataFromMetadata({}, 'old.safetensors'), undefined);
  assert.throws(
    () => dataFromMetadata({ data: '{"dir":1}' }, 'x.safetensors'),
    /^Error: x\.safetensors: metadata 'data'/,
  );
});

test('best.safetensors is the best epoch at the final sparsity, though an unpruned epoch scored higher', async () => {
  // Two dense epochs, then a third that prunes nearly every weight (below 3 standard deviations).
  const recipe = applyOverrides(tinySmoke, ['pruning.q=3', 'pruning.events=[{"epoch":3,"layers":"all"}]']);
  const outDir = scratchDir();
  const data = { train: cifar10Split(320, 'train'), test: cifar10Split(64, 'test') };
  const result = await train(recipe, { dataDir: '', outDir, data });
  result.model.dispose();
  const [, dense, pruned] = result.history as [unknown, { testTop1: number }, { testTop1: number; sparsity: number }];
  assert.ok(
    dense.testTop1 > pruned.testTop1,
    `the premise: dense epoch 2 (${dense.testTop1}) beats pruned epoch 3 (${pruned.testTop1})`,
  );
  const best = bestEpoch(outDir)!;
  assert.equal(best.epoch, 3, 'best is from the final stage, not the better dense epoch');
  assert.equal(best.sparsity, pruned.sparsity);
  assert.equal(readTrainState(bestCheckpoint(outDir)).history.length, 3);
  assert.match(bestText(best), /^best: epoch 3, the best test top-1 \([\d.]+%\) at the final sparsity 9\d\.\d\d%/);
  assert.equal(readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
});
