// The main job: the smoke recipe end to end on generated data learns and prunes on schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { findRecipe } from '../src/recipes/index.js';
import { loadModelCheckpoint } from '../src/checkpoint/model-file.js';
import { Loader, loadSplit } from '../src/data/index.js';
import { setIntegerSimulation } from '../src/quant/prepare.js';
import { scratchDir } from './support/googlenet-oracle.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** One smoke run, shared by the tests below. */
let smokeRun: { dir: string; out: string; stdout: string } | undefined;
function runSmoke(): { dir: string; out: string; stdout: string } {
  if (!smokeRun) {
    const dir = scratchDir();
    const empty = join(dir, 'no-cifar');
    mkdirSync(empty);
    const out = join(dir, 'run');
    const run = spawnSync(process.execPath, [cli, 'smoke', '--data', empty, '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    smokeRun = { dir, out, stdout: run.stdout };
  }
  return smokeRun;
}

test('micronet smoke: without CIFAR-100 it trains on generated data, learns, prunes on schedule and scores', () => {
  const { out, stdout } = runSmoke();
  const run = { stdout };
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

test('micronet quantize after the smoke run: masks kept, 8-bit within 0.5 point and 4-bit weights within 2 points of the float top-1; the integer checkpoint predicts what the fake-quantized model predicts', async () => {
  const { dir, out } = runSmoke();
  const data = join(out, 'generated-data');
  const floatHistory = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { testTop1: number; sparsity: number });
  const floatTop1 = Math.max(...floatHistory.map((h) => h.testTop1));  // best.safetensors holds that epoch
  const floatSparsity = floatHistory.at(-1)!.sparsity;

  for (const [weightBits, margin] of [[8, 0.005], [4, 0.02]] as const) {
    const qat = join(dir, `qat${weightBits}`);
    // The smoke model is still learning at its last rate, 0.01: QAT fine-tunes at that rate.
    const run = spawnSync(process.execPath, [cli, 'quantize', '--checkpoint', join(out, 'best.safetensors'), '--data', data, '--out', qat,
      '--weight-bits', String(weightBits), '--act-bits', '8', '--epochs', '2', '--lr', '0.01'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /MicroNet score \(official rules, quantized\): 0\.\d+/);
    const history = readFileSync(join(qat, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { testTop1: number; sparsity: number });
    for (const h of history) assert.equal(h.sparsity, floatSparsity, 'QAT keeps the pruned weights at zero and adds no zeros to the masks');
    const top1 = history.at(-1)!.testTop1;
    assert.ok(top1 >= floatTop1 - margin, `${weightBits}-bit weights: top-1 ${top1}, float ${floatTop1}`);

    // The deployable checkpoint: integer simulation and fake quantization agree on every prediction.
    const { model } = loadModelCheckpoint(join(qat, 'quantized.safetensors'));
    const logits = async (integer: boolean) => {
      setIntegerSimulation(model, integer);
      const rows: T.Tensor[] = [];
      for await (const b of new Loader({ data: loadSplit(data, 'test'), pipeline: 'micronet-seed/test', batchSize: 256 }).epoch(0)) {
        rows.push(T.keep(T.noGrad(() => model.forward(b.x, false))));
        b.x.dispose();
        b.y.dispose();
      }
      return T.cat(rows, 0);
    };
    const integer = await logits(true);
    const fake = await logits(false);
    assert.equal(T.tidy(() => integer.argmax(1).eq(fake.argmax(1)).sum().item()), integer.size(0), 'the same prediction for every image');
    const error = T.tidy(() => integer.sub(fake).abs().max().item() / fake.abs().max().item());
    assert.ok(error < 1e-2, `integer logits within 1% of the logits' scale of the fake-quantized ones (${error})`);
    const evaluated = spawnSync(process.execPath, [cli, 'eval', '--checkpoint', join(qat, 'quantized.safetensors'), '--data', data, '--json'], { encoding: 'utf8' });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as { top1: number }).top1, top1, 'the integer checkpoint scores what QAT reported');
    const scored = spawnSync(process.execPath, [cli, 'score', '--checkpoint', join(qat, 'quantized.safetensors'), '--json'], { encoding: 'utf8' });
    assert.equal(scored.status, 0, scored.stderr);
    const report = JSON.parse(scored.stdout) as { bitWidth: unknown; layers: { precision: { weight: number; mult: number; quantized?: boolean } }[] };
    assert.equal(report.bitWidth, 'mixed', 'bits read from the file');
    assert.ok(report.layers.some((l) => l.precision.quantized && l.precision.weight === weightBits && l.precision.mult === 8));
    const freebie = spawnSync(process.execPath, [cli, 'score', '--checkpoint', join(qat, 'quantized.safetensors'), '--bits', '16'], { encoding: 'utf8' });
    assert.equal(freebie.status, 2);
    assert.match(freebie.stderr, /freebie/);
    model.dispose();
  }
});
