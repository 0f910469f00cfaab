// MicroNet scoring: the seed network's published dense figures to the digit under both rule
// sets, hand-computed small models, and invariance to weight values except through sparsity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Linear, MaskedConv2d, MaxPool2d, Module, ReLU, chain } from '../src/nn/index.js';
import { buildModel, findModel } from '../src/models/registry.js';
import { scoreModel } from '../src/score/index.js';
import { saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { scratchDir } from './support/googlenet-oracle.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/**
 * A googlenet with no zero weight. uniform(-b, b) in float32 hits 0.0 exactly with probability
 * 2^-24 per weight, about once in three models, and an exact zero is sparsity under the rules.
 */
function denseGoogLeNet(): Module {
  const { model } = buildModel('googlenet', {}, { generator: new T.Generator(1) });
  const zeros = T.tidy(() => model.namedParameters().filter(([k]) => k.endsWith('weight'))
    .reduce((n, [, p]) => n + p.numel - p.countNonzero().item(), 0));
  assert.equal(zeros, 0);
  return model;
}

test('dense googlenet, official rules: SEED-SPEC 4a figures', () => {
  const model = denseGoogLeNet();
  const full = scoreModel(model, { rules: 'official', freebie: false });
  assert.equal(full.bits, 199_766_144);
  assert.equal(full.params, 6_242_692);
  assert.equal(full.mults, 1_524_404_224);
  assert.equal(full.adds, 1_533_053_952);
  assert.equal(full.ops, 3_057_458_176);
  const freebie = scoreModel(model, { rules: 'official', freebie: true });
  assert.equal(freebie.params, 3_121_346);
  assert.equal(freebie.ops, 2_295_256_064);
  assert.equal(freebie.score, 0.3043205293390966);
  model.dispose();
});

test('dense googlenet, the entry\'s id56 rules: SEED-SPEC 4b figures', () => {
  const model = denseGoogLeNet();
  const r = scoreModel(model, { rules: 'id56', freebie: false });
  assert.equal(r.bits, 200_272_000);
  assert.equal(r.params, 6_258_500);
  assert.equal(r.mults, 1_524_404_144);
  assert.equal(r.adds, 1_522_170_672);
  assert.equal(r.ops, 3_046_574_816);
  model.dispose();
});

/** conv 2->3 (k3, p1) with 10 of 54 weights masked, BN, ReLU, 2x2 max pool, global pool, dense linear 3->4. */
class Tiny extends Module {
  conv = this.registerModule('conv', new MaskedConv2d(2, 3, 3, { padding: 1, generator: new T.Generator(0) }));
  bn = this.registerModule('bn', new BatchNorm2d(3));
  relu = this.registerModule('relu', new ReLU());
  pool = this.registerModule('pool', new MaxPool2d(2));
  gap = this.registerModule('gap', new AdaptiveAvgPool2d(1));
  fc = this.registerModule('fc', new Linear(3, 4, { generator: new T.Generator(1) }));
  constructor() {
    super();
    const mask = new Uint8Array(54).fill(1);
    for (const i of [0, 5, 9, 13, 20, 27, 33, 40, 47, 53]) mask[i] = 0;
    T.noGrad(() => this.conv.mask!.copy_(T.tidy(() => T.tensor(mask, { shape: [3, 2, 3, 3] }).float())));
  }
  forward(x: T.Tensor, training: boolean): T.Tensor {
    const h = chain(x, training, [this.conv, this.bn, this.relu, this.pool, this.gap]);
    return this.fc.forward(h.flatten(1));
  }
}

test('a small model by hand: sparse conv with a mask, dense linear without one', () => {
  const model = new Tiny();
  const r32 = scoreModel(model, { rules: 'official', freebie: false, inputShape: [2, 4, 4] });
  const row = (name: string) => r32.layers.find((l) => l.name === name)!;
  // conv: 44 non-zeros x 32 bits + 54 mask bits + 3 bias values x 32 bits (BN shift merged)
  assert.deepEqual([row('conv').nonzero, row('conv').bits], [44, 44 * 32 + 54 + 3 * 32]);
  // 4x4 outputs per channel: 44*16 multiplies; (44/3 - 1)*48 + 48 bias adds = 704
  assert.deepEqual([row('conv').mults, row('conv').adds], [704, 704]);
  assert.deepEqual([row('bn').bits, row('bn').mults, row('bn').adds], [0, 0, 0]);
  assert.equal(row('relu').mults, 3 * 4 * 4);
  assert.equal(row('pool').adds, 3 * 2 * 2 * 3);  // 3 comparisons per output of a 2x2 window
  assert.deepEqual([row('gap').mults, row('gap').adds], [3, 3 * 3]);
  // fc: dense, so no mask: 12 weights + 4 biases at 32 bits; 12 mults, (12/4 - 1)*4 + 4 adds
  assert.deepEqual([row('fc').bits, row('fc').mults, row('fc').adds], [16 * 32, 12, 12]);
  assert.equal(r32.bits, 1558 + 512);
  assert.equal(r32.mults, 704 + 48 + 3 + 12);
  assert.equal(r32.adds, 704 + 36 + 9 + 12);
  assert.equal(r32.ops, 767 + 761);

  const r16 = scoreModel(model, { rules: 'official', freebie: true, inputShape: [2, 4, 4] });
  assert.equal(r16.bits, (44 * 16 + 54 + 3 * 16) + (16 * 16));
  assert.equal(r16.params, 1062 / 32);
  assert.equal(r16.ops, 767 / 2 + 761);
  assert.equal(r16.score, 1062 / 32 / 36.5e6 + (767 / 2 + 761) / 10.49e9);

  // id56 on the same model: BN stored and counted per channel, pools on the running shape.
  const id = scoreModel(model, { rules: 'id56', freebie: false, inputShape: [2, 4, 4] });
  const idRow = (name: string) => id.layers.find((l) => l.name === name)!;
  assert.deepEqual([idRow('bn').bits, idRow('bn').adds], [2 * 32 * 3, 3]);
  assert.deepEqual([idRow('pool').mults, idRow('pool').adds], [3, (16 - 1) * 3]);  // res 4 -> 2
  assert.deepEqual([idRow('gap').mults, idRow('gap').adds], [3, (4 - 1) * 3]);
  assert.deepEqual([idRow('fc').mults, idRow('fc').adds], [12, 12]);
  model.dispose();
});

test('totals depend on the weights only through their sparsity', () => {
  const a = buildModel('googlenet', {}, { generator: new T.Generator(1) }).model;
  const b = buildModel('googlenet', {}, { generator: new T.Generator(3) }).model;
  const totals = (m: Module, rules: 'official' | 'id56') => {
    const { bits, mults, adds, ops } = scoreModel(m, { rules, freebie: true });
    return { bits, mults, adds, ops };
  };
  for (const rules of ['official', 'id56'] as const) assert.deepEqual(totals(a, rules), totals(b, rules));
  // Zero half of the classifier through its mask: its storage and work change, nothing else.
  const before = scoreModel(a, { rules: 'official', freebie: true });
  const linear = a.stateDict().get('linear.mask')!;
  T.noGrad(() => T.tidy(() => { linear.narrow(1, 0, 512).zero_(); }));
  const after = scoreModel(a, { rules: 'official', freebie: true });
  const changed = after.layers.filter((l, i) => JSON.stringify(l) !== JSON.stringify(before.layers[i]));
  assert.deepEqual(changed.map((l) => l.name), ['linear']);
  assert.equal(changed[0]!.nonzero, 51_200);
  assert.equal(changed[0]!.bits, 51_200 * 16 + 102_400 + 100 * 16);
  a.dispose();
  b.dispose();
});

test('the freebie is refused for quantised layers; bit widths are checked', () => {
  const { model } = buildModel('googlenet');
  assert.throws(() => scoreModel(model, { rules: 'official', freebie: true, layerBits: { linear: 8 } }), /freebie applies to unquantised models only: layer 'linear' is at 8 bits/);
  assert.throws(() => scoreModel(model, { rules: 'official', freebie: false, layerBits: { nope: 8 } }), /unknown layer 'nope'/);
  const q = scoreModel(model, { rules: 'official', freebie: false, layerBits: { linear: 8 } });
  const l = q.layers.find((x) => x.name === 'linear')!;
  assert.equal(l.bits, 8 * 102_400 + 8 * 100);
  model.dispose();
});

test('micronet score: table, JSON and the accuracy threshold, on a checkpoint', () => {
  const model = denseGoogLeNet();
  const config = findModel('googlenet').defaults;
  const path = join(scratchDir(), 'm.safetensors');
  saveModelCheckpoint(path, model, 'googlenet', config);
  model.dispose();
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'score', ...args], { encoding: 'utf8' });
  const started = Date.now();
  const json = run('--checkpoint', path, '--json', '--accuracy', '80.18');
  const seconds = (Date.now() - started) / 1000;
  assert.equal(json.status, 0, json.stderr);
  const r = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.deepEqual([r.rules, r.params, r.ops, r.score, r.meetsThreshold], ['official', 3_121_346, 2_295_256_064, 0.3043205293390966, true]);
  // leaf calls: the prelayer's 3, 22 in each inception, the max pool twice, avgpool, dropout, linear
  assert.equal((r.layers as unknown[]).length, 3 + 9 * 22 + 5);
  assert.ok(seconds < 5, `scoring a 6.3M-parameter checkpoint took ${seconds}s`);
  const table = run('--checkpoint', path, '--rules', 'id56', '--bits', '32', '--accuracy', '79.99');
  assert.match(table.stdout, /params: 6,258,500 \(200,272,000 bits \/ 32\)/);
  assert.match(table.stdout, /accuracy: 79\.99% top-1: does NOT meet the 80% threshold/);
  assert.match(run('--rules', 'exact').stderr, /--rules must be one of official, id56, not 'exact'/);
  assert.match(run('--frobnicate').stderr, /unknown option --frobnicate/);
});

test('an architecture scores dense to the digit whatever its random weights hold (20 seeds)', () => {
  let seedsWithAZero = 0;
  for (let seed = 0; seed < 20; seed++) {
    T.manualSeed(seed);
    const { model } = buildModel('googlenet');
    const official = scoreModel(model, { rules: 'official', freebie: true, dense: true });
    const id56 = scoreModel(model, { rules: 'id56', freebie: false, dense: true });
    assert.deepEqual([official.params, official.ops, official.score], [3_121_346, 2_295_256_064, 0.3043205293390966], `seed ${seed}`);
    assert.deepEqual([id56.params, id56.ops], [6_258_500, 3_046_574_816], `seed ${seed}`);
    // Read from the weights, a seed whose init holds an exact 0.0 would count that layer as sparse.
    if (scoreModel(model, { rules: 'id56', freebie: false }).params !== 6_258_500) seedsWithAZero++;
    model.dispose();
  }
  assert.ok(seedsWithAZero > 0, 'some of the seeds draw an exact zero, so the test exercises dense scoring');

  const run = spawnSync(process.execPath, [cli, 'score', '--model', 'googlenet', '--rules', 'id56', '--bits', '32', '--json'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout) as { params: number; ops: number };
  assert.deepEqual([r.params, r.ops], [6_258_500, 3_046_574_816]);
});
