// MicroNet scoring: the seed network's published dense figures to the digit under both rule
// sets, hand-computed small models (float and quantized), googlenet at 8 bits counted
// independently, a quantized googlenet at its own bits, and invariance to weight values except
// through sparsity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Identity,
  Linear,
  MaskedConv2d,
  MaxPool2d,
  Module,
  ReLU,
  WeightLayer,
  chain,
  AvgPool2d,
} from '../src/nn/index.js';
import { buildModel, findModel } from '../src/models/registry.js';
import { planFor, prepareQuantized } from '../src/quant/prepare.js';
import { defaultBits, scoreModel, type ScoreReport } from '../src/score/index.js';
import { formatReport } from '../src/score/format.js';
import { traceForward } from '../src/nn/trace.js';
import { saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { scratchDir } from './support/scratch.js';
import { cli } from './support/cli.js';

/**
 * A googlenet with no zero weight. uniform(-b, b) in float32 hits 0.0 exactly with probability
 * 2^-24 per weight, about once in three models, and an exact zero is sparsity under the rules.
 */
function denseGoogLeNet(): Module {
  const { model } = buildModel('googlenet', {}, { generator: new T.Generator(1) });
  const zeros = T.tidy(() =>
    model
      .namedParameters()
      .filter(([k]) => k.endsWith('weight'))
      .reduce((n, [, p]) => n + p.numel - p.countNonzero().item(), 0),
  );
  assert.equal(zeros, 0);
  return model;
}

test('dense googlenet, official rules: docs/SPEC.md §6.5 figures', () => {
  const model = denseGoogLeNet();
  const full = scoreModel(model, { rules: 'official', bits: 32 });
  assert.equal(full.bits, 199_766_144);
  assert.equal(full.params, 6_242_692);
  assert.equal(full.mults, 1_524_404_224);
  assert.equal(full.adds, 1_533_053_952);
  assert.equal(full.ops, 3_057_458_176);
  const freebie = scoreModel(model, { rules: 'official', bits: 16 });
  assert.equal(freebie.params, 3_121_346);
  assert.equal(freebie.ops, 2_295_256_064);
  assert.equal(freebie.score, 0.3043205293390966);
  // A float model's own bits are 32: 'model' is the no-freebie count, and says so.
  const own = scoreModel(model, { rules: 'official', bits: 'model' });
  assert.deepEqual([own.bitWidth, own.bits, own.ops, own.score], [32, full.bits, full.ops, full.score]);
  assert.equal(defaultBits(model), 16);
  model.dispose();
});

test("dense googlenet, the entry's id56 rules: docs/SPEC.md §6.5 figures", () => {
  const model = denseGoogLeNet();
  const r = scoreModel(model, { rules: 'id56', bits: 32 });
  assert.equal(r.bits, 200_272_000);
  assert.equal(r.params, 6_258_500);
  assert.equal(r.mults, 1_524_404_144);
  assert.equal(r.adds, 1_522_170_672);
  assert.equal(r.ops, 3_046_574_816);
  model.dispose();
});

/**
 * conv 2->3 (k3, p1) with 10 of 54 weights masked, BN, ReLU, 2x2 max pool, global pool, dense
 * linear 3->4. `folded`: an Identity stands where the BatchNorm was, as after folding, and the
 * conv's own bias stands for the folded shift.
 */
class Tiny extends Module {
  readonly conv: MaskedConv2d;
  readonly bn: Module;
  readonly relu = new ReLU();
  readonly pool = new MaxPool2d(2);
  readonly gap = new AdaptiveAvgPool2d(1);
  readonly fc: Linear;
  constructor(folded = false) {
    super();
    this.conv = this.registerModule('conv', new MaskedConv2d(2, 3, 3, { padding: 1, generator: new T.Generator(0) }));
    this.bn = this.registerModule('bn', folded ? new Identity() : new BatchNorm2d(3));
    for (const [name, m] of [
      ['relu', this.relu],
      ['pool', this.pool],
      ['gap', this.gap],
    ] as const)
      this.registerModule(name, m);
    this.fc = this.registerModule('fc', new Linear(3, 4, { generator: new T.Generator(1) }));
    const mask = new Uint8Array(54).fill(1);
    for (const i of [0, 5, 9, 13, 20, 27, 33, 40, 47, 53]) mask[i] = 0;
    T.noGrad(() => this.conv.mask!.copy_(T.tidy(() => T.tensor(mask, { shape: [3, 2, 3, 3] }).float())));
  }
  forward(x: T.Tensor, training: boolean): T.Tensor {
    const h = chain(x, training, [this.conv, this.bn, this.relu, this.pool, this.gap]);
    return this.fc.forward(h.flatten(1), training);
  }
}

const tinyInput = [2, 4, 4];

test('a small model by hand: sparse conv with a mask, dense linear without one', () => {
  const model = new Tiny();
  const r32 = scoreModel(model, { rules: 'official', bits: 32, inputShape: tinyInput });
  const row = (name: string) => r32.layers.find((l) => l.name === name)!;
  // conv: 44 non-zeros x 32 bits + 54 mask bits + 3 bias values x 32 bits (BN shift merged)
  assert.deepEqual([row('conv').nonzero, row('conv').bits], [44, 44 * 32 + 54 + 3 * 32]);
  // 4x4 outputs per channel: 44*16 multiplies; (44/3 - 1)*48 + 48 bias adds = 704
  assert.deepEqual([row('conv').mults, row('conv').adds], [704, 704]);
  assert.deepEqual([row('bn').bits, row('bn').mults, row('bn').adds], [0, 0, 0]);
  assert.equal(row('relu').mults, 3 * 4 * 4);
  assert.equal(row('pool').adds, 3 * 2 * 2 * 3); // 3 comparisons per output of a 2x2 window
  assert.deepEqual([row('gap').mults, row('gap').adds], [3, 3 * 3]);
  // fc: dense, so no mask: 12 weights + 4 biases at 32 bits; 12 mults, (12/4 - 1)*4 + 4 adds
  assert.deepEqual([row('fc').bits, row('fc').mults, row('fc').adds], [16 * 32, 12, 12]);
  assert.equal(r32.bits, 1558 + 512);
  assert.equal(r32.mults, 704 + 48 + 3 + 12);
  assert.equal(r32.adds, 704 + 36 + 9 + 12);
  assert.equal(r32.ops, 767 + 761);

  const r16 = scoreModel(model, { rules: 'official', bits: 16, inputShape: tinyInput });
  assert.equal(r16.bits, 44 * 16 + 54 + 3 * 16 + 16 * 16);
  assert.equal(r16.params, 1062 / 32);
  assert.equal(r16.ops, 767 / 2 + 761);
  assert.equal(r16.score, 1062 / 32 / 36.5e6 + (767 / 2 + 761) / 10.49e9);

  // id56 on the same model: BN stored and counted per channel, pools on the running shape.
  const id = scoreModel(model, { rules: 'id56', bits: 32, inputShape: tinyInput });
  const idRow = (name: string) => id.layers.find((l) => l.name === name)!;
  assert.deepEqual([idRow('bn').bits, idRow('bn').adds], [2 * 32 * 3, 3]);
  assert.deepEqual([idRow('pool').mults, idRow('pool').adds], [3, (16 - 1) * 3]); // res 4 -> 2
  assert.deepEqual([idRow('gap').mults, idRow('gap').adds], [3, (4 - 1) * 3]);
  assert.deepEqual([idRow('fc').mults, idRow('fc').adds], [12, 12]);
  model.dispose();
});

test('totals depend on the weights only through their sparsity', () => {
  const a = buildModel('googlenet', {}, { generator: new T.Generator(1) }).model;
  const b = buildModel('googlenet', {}, { generator: new T.Generator(3) }).model;
  const totals = (m: Module, rules: 'official' | 'id56') => {
    const { bits, mults, adds, ops } = scoreModel(m, { rules, bits: 16 });
    return { bits, mults, adds, ops };
  };
  for (const rules of ['official', 'id56'] as const) assert.deepEqual(totals(a, rules), totals(b, rules));
  // Zero half of the classifier through its mask: its storage and work change, nothing else.
  const before = scoreModel(a, { rules: 'official', bits: 16 });
  const linear = a.stateDict().get('linear.mask')!;
  T.noGrad(() =>
    T.tidy(() => {
      linear.narrow(1, 0, 512).zero_();
    }),
  );
  const after = scoreModel(a, { rules: 'official', bits: 16 });
  const changed = after.layers.filter((l, i) => JSON.stringify(l) !== JSON.stringify(before.layers[i]));
  assert.deepEqual(
    changed.map((l) => l.name),
    ['linear'],
  );
  assert.equal(changed[0]!.nonzero, 51_200);
  assert.equal(changed[0]!.bits, 51_200 * 16 + 102_400 + 100 * 16);
  a.dispose();
  b.dispose();
});

const totalsOf = ({ bits, params, mults, adds, ops, score }: ScoreReport) => ({
  bits,
  params,
  mults,
  adds,
  ops,
  score,
});

test('a quantized conv by hand: weights at its bits, bias int32, multiplies at the wider of weight and input', () => {
  // Tiny after folding, its conv quantized, its linear left float. What the widths do not change:
  //  fc (float, 32-bit): 12 weights + 4 biases = 16 x 32 = 512 bits; 12 multiplies at 32/32 = 12 ops
  //  ReLU: 3x4x4 = 48 multiplies of 32-bit values = 48 ops; global pool: 3 multiplies = 3 ops
  //  additions: conv 704, max pool 36, global pool 9, fc 12 = 761
  //  so ops = conv multiplies x mult/32 + 12 + 48 + 3 + 761 = 704 x mult/32 + 824
  // The conv: 44 non-zeros at w bits, 54 mask bits, 3 int32 biases = 44w + 54 + 96 bits.
  const cases = [
    {
      bits: { weight: 8, input: 8 },
      label: 'w8 a8',
      mult: 8,
      storage: 44 * 8 + 54 + 96 + 512 /* 1014 */,
      ops: (704 * 8) / 32 + 824 /* 1000 */,
    },
    {
      bits: { weight: 4, input: 4 },
      label: 'w4 a4',
      mult: 4,
      storage: 44 * 4 + 54 + 96 + 512 /* 838 */,
      ops: (704 * 4) / 32 + 824 /* 912 */,
    },
    {
      bits: { weight: 4, input: 8 },
      label: 'w4 a8',
      mult: 8,
      storage: 44 * 4 + 54 + 96 + 512 /* 838 */,
      ops: (704 * 8) / 32 + 824 /* 1000 */,
    },
  ];
  // Conv weights of magnitudes 0.1..0.7 in every channel: none rounds to 0 even at 4 bits (scale 0.7/7.5).
  const grid = (m: Tiny) =>
    T.noGrad(() =>
      m.conv.weight.copy_(
        T.tidy(() =>
          T.tensor(Array.from({ length: 54 }, (_, i) => ((i % 7) + 1) * 0.1 * (i % 2 ? -1 : 1))).reshape([3, 2, 3, 3]),
        ),
      ),
    );
  for (const c of cases) {
    const model = new Tiny(true);
    grid(model);
    model.conv.quantize(c.bits);
    assert.equal(defaultBits(model), 'model');
    const r = scoreModel(model, { rules: 'official', bits: 'model', inputShape: tinyInput });
    const row = (name: string) => r.layers.find((l) => l.name === name)!;
    assert.deepEqual(row('conv').precision, { weight: c.bits.weight, bias: 32, mult: c.mult, quantized: c.bits });
    assert.deepEqual(row('fc').precision, { weight: 32, bias: 32, mult: 32 });
    assert.deepEqual(row('relu').precision, { mult: 32 });
    assert.deepEqual([row('bn').bits, row('bn').mults, row('bn').adds, row('bn').precision], [0, 0, 0, undefined]);
    assert.equal(row('conv').bits, 44 * c.bits.weight + 54 + 3 * 32);
    assert.equal(r.bitWidth, 'mixed');
    assert.deepEqual(totalsOf(r), {
      bits: c.storage,
      params: c.storage / 32,
      mults: 704 + 48 + 3 + 12,
      adds: 761,
      ops: c.ops,
      score: c.storage / 32 / 36.5e6 + c.ops / 10.49e9,
    });
    assert.match(formatReport(r), new RegExp(`^conv +MaskedConv2d .* ${c.label} +${44 * c.bits.weight + 150} `, 'm'));
    assert.match(formatReport(r), /^fc +Linear .* 32 +512 /m);

    // The same conv unfolded (BatchNorm after it, folded by the rules): the same count.
    const unfolded = new Tiny();
    grid(unfolded);
    unfolded.conv.quantize(c.bits);
    assert.deepEqual(
      totalsOf(scoreModel(unfolded, { rules: 'official', bits: 'model', inputShape: tinyInput })),
      totalsOf(r),
    );
    // A width asked for ignores the layer's own: the quantized model scores as the float one.
    const float = new Tiny(true);
    for (const bits of [8, 4, 32]) {
      const whatIf = scoreModel(model, { rules: 'official', bits, inputShape: tinyInput });
      assert.deepEqual(
        totalsOf(whatIf),
        totalsOf(scoreModel(float, { rules: 'official', bits, inputShape: tinyInput })),
      );
      assert.deepEqual(whatIf.layers.find((l) => l.name === 'conv')!.precision, {
        weight: bits,
        bias: bits,
        mult: bits,
      });
      assert.equal(whatIf.bitWidth, bits);
    }
    // id56: the same storage for the conv, its mult-adds unweighted.
    const id = scoreModel(model, { rules: 'id56', bits: 'model', inputShape: tinyInput });
    const idConv = id.layers.find((l) => l.name === 'conv')!;
    assert.deepEqual([idConv.bits, idConv.precision?.quantized], [44 * c.bits.weight + 54 + 3 * 32, c.bits]);
    assert.equal(id.ops, id.mults + id.adds);
    for (const m of [model, unfolded, float]) m.dispose();
  }

  // A weight that rounds to 0 on its grid is a zero of the stored tensor: one fewer non-zero at 4 bits.
  const rounded = new Tiny(true);
  grid(rounded);
  T.noGrad(() => rounded.conv.weight.narrow(0, 0, 1).reshape([-1]).narrow(0, 1, 1).fill_(0.01)); // |0.01| < 0.7 / 7.5 / 2
  rounded.conv.quantize({ weight: 4, input: 4 });
  const r4 = scoreModel(rounded, { rules: 'official', bits: 'model', inputShape: tinyInput });
  assert.equal(r4.layers.find((l) => l.name === 'conv')!.nonzero, 43);
  rounded.dispose();

  // What-if 8 bits, every weight, bias and multiply:
  //  conv 44 x 8 + 54 + 3 x 8 = 430, fc 16 x 8 = 128: 558 bits
  //  ops = 767 multiplies x 8/32 + 761 additions = 952.75
  const float = new Tiny();
  const eight = scoreModel(float, { rules: 'official', bits: 8, inputShape: tinyInput });
  assert.deepEqual([eight.bits, eight.ops, eight.bitWidth], [430 + 128, (767 * 8) / 32 + 761, 8]);
  float.dispose();
});

test('widths are checked; the freebie is refused on a quantized model', () => {
  const model = new Tiny(true);
  for (const bits of [0, 33, 8.5, -1, NaN]) {
    assert.throws(
      () => scoreModel(model, { rules: 'official', bits, inputShape: tinyInput }),
      /bits must be an integer in 1\.\.32 or 'model'/,
    );
  }
  assert.equal(scoreModel(model, { rules: 'official', bits: 16, inputShape: tinyInput }).bitWidth, 16);
  model.fc.quantize({ weight: 8, input: 8 });
  assert.throws(
    () => scoreModel(model, { rules: 'official', bits: 16, inputShape: tinyInput }),
    /the 16-bit freebie applies to unquantized models only: layer 'fc' is quantized \(w8 a8\)/,
  );
  assert.throws(() => scoreModel(model, { rules: 'id56', bits: 16, inputShape: tinyInput }), /16-bit freebie/);
  model.dispose();
});

test('dense googlenet at 8 bits: the scorer and an independent count agree, to the digit (docs/SPEC.md §6.5, 8 bits)', () => {
  const model = denseGoogLeNet();
  const r = scoreModel(model, { rules: 'official', bits: 8 });
  // From the layer shapes: every conv has a bias (merged with its BatchNorm's shift), each output
  // costs fanIn multiplies and fanIn additions ((fanIn - 1) + 1 for the bias).
  let bits = 0;
  let mults = 0;
  let adds = 0;
  for (const { module: m, input, output } of traceForward(model).calls) {
    const outputs = output.reduce((a, b) => a * b, 1);
    if (m instanceof Conv2d || m instanceof Linear) {
      const fanIn = m.weight.numel / m.outChannels;
      bits += 8 * m.weight.numel + 8 * m.outChannels;
      mults += fanIn * outputs;
      adds += fanIn * outputs;
    } else if (m instanceof ReLU) {
      mults += outputs;
    } else if (m instanceof MaxPool2d) {
      adds += (m.kernelSize ** 2 - 1) * outputs;
    } else if (m instanceof AdaptiveAvgPool2d) {
      const [c, h, w] = input as [number, number, number];
      mults += c;
      adds += (h * w - 1) * c;
    }
  }
  const ops = (mults * 8) / 32 + adds;
  assert.deepEqual([r.bits, r.mults, r.adds, r.ops], [bits, mults, adds, ops]);
  assert.equal(r.score, bits / 32 / 36.5e6 + ops / 10.49e9);
  // The published 8-bit reference.
  assert.deepEqual([r.params, r.ops, r.score, r.bitWidth], [1_560_673, 1_914_155_008, 0.22523242634733667, 8]);
  model.dispose();
});

test('a quantized googlenet at its own bits, against its 4-bit what-if', () => {
  const { model } = buildModel('googlenet', { width: 0.125 }, { generator: new T.Generator(5) });
  const floatAt4 = scoreModel(model, { rules: 'official', bits: 4, dense: true });
  prepareQuantized(
    model,
    planFor(model, { weightBits: 4, actBits: 8, first: { weight: 8, input: 8 }, last: null, averagingConstant: 0.01 }),
  );
  const own = scoreModel(model, { rules: 'official', bits: 'model', dense: true });
  const at4 = scoreModel(model, { rules: 'official', bits: 4, dense: true });
  // Folding replaced BatchNorm by Identity and gave each conv its bias: the 4-bit count is unchanged.
  assert.deepEqual(totalsOf(at4), totalsOf(floatAt4));
  assert.equal(own.bitWidth, 'mixed');
  assert.equal(at4.bitWidth, 4);

  const layers = model.namedModules().filter((e): e is [string, WeightLayer] => e[1] instanceof WeightLayer);
  assert.deepEqual(
    layers.map(([, l]) => l.bits).filter((b) => b!.weight === 8),
    [{ weight: 8, input: 8 }],
  );
  assert.deepEqual(layers[0]![1].bits, { weight: 8, input: 8 }); // the first conv, set apart
  let extraBits = 0;
  let weightMults = 0;
  for (const [name, layer] of layers) {
    const b = layer.bits!;
    const row = own.layers.find((l) => l.name === name)!;
    const whatIf = at4.layers.find((l) => l.name === name)!;
    assert.deepEqual(
      row.precision,
      { weight: b.weight, bias: 32, mult: Math.max(b.weight, b.input), quantized: b },
      name,
    );
    assert.deepEqual(whatIf.precision, { weight: 4, bias: 4, mult: 4 }, name);
    // The weights at their own bits instead of 4, the bias int32 instead of 4 bits.
    assert.equal(row.bits - whatIf.bits, (b.weight - 4) * layer.weight.numel + (32 - 4) * layer.outChannels, name);
    extraBits += row.bits - whatIf.bits;
    weightMults += row.mults;
  }
  // Only the first conv has 8-bit weights; every layer has an int32 bias.
  assert.equal(extraBits, 4 * layers[0]![1].weight.numel + 28 * layers.reduce((s, [, l]) => s + l.outChannels, 0));
  assert.equal(own.bits - at4.bits, extraBits);
  // The same multiplies and additions, weighted otherwise: the layers' at 8 bits (inputs are
  // 8-bit), ReLU and the global pool on 32-bit values.
  assert.deepEqual([own.mults, own.adds], [at4.mults, at4.adds]);
  const floatMults = own.layers.filter((l) => l.precision?.mult === 32).reduce((s, l) => s + l.mults, 0);
  assert.deepEqual(
    own.layers
      .filter((l) => l.precision?.mult === 32)
      .map((l) => l.type)
      .filter((t, i, a) => a.indexOf(t) === i)
      .sort(),
    ['AdaptiveAvgPool2d', 'ReLU'],
  );
  assert.equal(weightMults + floatMults, own.mults);
  assert.equal(own.ops - at4.ops, (weightMults * (8 - 4)) / 32 + (floatMults * (32 - 4)) / 32);
  assert.ok(own.score > at4.score);
  assert.match(formatReport(own), /^prelayer\.0 +MaskedConv2d .* w8 a8 /m);
  assert.match(formatReport(own), /^linear +MaskedLinear .* w4 a8 /m);

  // id56: storage as the official rules count it, mult-adds whatever the widths.
  const id = scoreModel(model, { rules: 'id56', bits: 'model', dense: true });
  const id4 = scoreModel(model, { rules: 'id56', bits: 4, dense: true });
  assert.equal(id.bits - id4.bits, extraBits);
  assert.equal(id.ops, id4.ops);
  assert.throws(
    () => scoreModel(model, { rules: 'official', bits: 16 }),
    /16-bit freebie applies to unquantized models only/,
  );
  model.dispose();
});

test('micronet score: table, JSON and the accuracy threshold, on a checkpoint', () => {
  const model = denseGoogLeNet();
  const config = findModel('googlenet').defaults;
  const path = join(scratchDir(), 'm.safetensors');
  saveModelCheckpoint(path, model, 'googlenet', config);
  model.dispose();
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'score', ...args], { encoding: 'utf8' });
  const json = run('--checkpoint', path, '--json', '--accuracy', '80.18');
  assert.equal(json.status, 0, json.stderr);
  const r = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.deepEqual(
    [r.rules, r.params, r.ops, r.score, r.meetsThreshold],
    ['official', 3_121_346, 2_295_256_064, 0.3043205293390966, true],
  );
  // leaf calls: the prelayer's 3, 22 in each inception, the max pool twice, avgpool, dropout, linear
  assert.equal((r.layers as unknown[]).length, 3 + 9 * 22 + 5);
  const table = run('--checkpoint', path, '--rules', 'id56', '--bits', '32', '--accuracy', '79.99');
  assert.match(table.stdout, /params: 6,258,500 \(200,272,000 bits \/ 32\)/);
  assert.match(table.stdout, /accuracy: 79\.99% top-1: does NOT meet the 80% threshold/);
  // --bits 8 and --bits model on a float checkpoint (docs/SPEC.md §6.5's 8-bit and dense figures).
  const eight = JSON.parse(run('--checkpoint', path, '--bits', '8', '--json').stdout) as {
    bitWidth: unknown;
    params: number;
    ops: number;
    score: number;
    layers: { name: string; precision?: unknown }[];
  };
  assert.deepEqual(
    [eight.bitWidth, eight.params, eight.ops, eight.score],
    [8, 1_560_673, 1_914_155_008, 0.22523242634733667],
  );
  assert.deepEqual(eight.layers.find((l) => l.name === 'prelayer.0')!.precision, { weight: 8, bias: 8, mult: 8 });
  const own = run('--checkpoint', path, '--bits', 'model');
  assert.equal(own.status, 0, own.stderr);
  assert.match(own.stdout, /^prelayer\.0 +MaskedConv2d +192x32x32 +5,184 +5,184 +100\.0% +32 +172,032 /m);
  assert.match(own.stdout, /rules: official, 32-bit parameters/);
  assert.match(own.stdout, /params: 6,242,692 \(199,766,144 bits \/ 32\)/);
  assert.match(own.stdout, /ops: 3,057,458,176 \(multiplies x 32\/32 \+ additions\)/);
  for (const bad of ['0', '33', '8.5', '016x', 'float']) {
    const refused = run('--bits', bad);
    assert.equal(refused.status, 2, bad);
    assert.match(
      refused.stderr,
      new RegExp(`--bits takes an integer in 1\\.\\.32 or 'model', not '${bad.replace('.', '\\.')}'`),
    );
  }
  assert.match(run('--rules', 'exact').stderr, /--rules must be one of official, id56, not 'exact'/);
  assert.match(run('--frobnicate').stderr, /unknown option --frobnicate/);
});

test('an architecture scores dense to the digit whatever its random weights hold (20 seeds)', () => {
  let seedsWithAZero = 0;
  for (let seed = 0; seed < 20; seed++) {
    T.manualSeed(seed);
    const { model } = buildModel('googlenet');
    const official = scoreModel(model, { rules: 'official', bits: 16, dense: true });
    const id56 = scoreModel(model, { rules: 'id56', bits: 32, dense: true });
    assert.deepEqual(
      [official.params, official.ops, official.score],
      [3_121_346, 2_295_256_064, 0.3043205293390966],
      `seed ${seed}`,
    );
    assert.deepEqual([id56.params, id56.ops], [6_258_500, 3_046_574_816], `seed ${seed}`);
    // Read from the weights, a seed whose init holds an exact 0.0 would count that layer as sparse.
    if (scoreModel(model, { rules: 'id56', bits: 32 }).params !== 6_258_500) seedsWithAZero++;
    model.dispose();
  }
  assert.ok(seedsWithAZero > 0, 'some of the seeds draw an exact zero, so the test exercises dense scoring');

  const run = spawnSync(
    process.execPath,
    [cli, 'score', '--model', 'googlenet', '--rules', 'id56', '--bits', '32', '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout) as { params: number; ops: number };
  assert.deepEqual([r.params, r.ops], [6_258_500, 3_046_574_816]);
});

/**
 * A residual block by hand: a depthwise conv 4->4 (k3, p1, no bias) whose output feeds both a
 * BatchNorm and the shortcut (so the BatchNorm cannot fold), a 2x2 average pool, and the sum.
 */
class Residual extends Module {
  readonly dw = new MaskedConv2d(4, 4, 3, { padding: 1, groups: 4, bias: false, generator: new T.Generator(2) });
  readonly bn = new BatchNorm2d(4);
  readonly pool = new AvgPool2d(2);
  constructor(readonly extra: 'none' | 'exp' = 'none') {
    super();
    this.registerModule('dw', this.dw);
    this.registerModule('bn', this.bn);
    this.registerModule('pool', this.pool);
  }
  forward(x: T.Tensor, training: boolean): T.Tensor {
    const h = this.dw.forward(x, training);
    const sum = this.pool.forward(this.bn.forward(h, training)).add(this.pool.forward(h));
    return this.extra === 'exp' ? sum.exp() : sum;
  }
}

test('any network by hand: a depthwise conv, a BatchNorm that cannot fold, average pooling, a residual addition; an unknown operator is refused', () => {
  const model = new Residual();
  const r = scoreModel(model, { rules: 'official', bits: 32, inputShape: [4, 4, 4] });
  const rows = r.layers.map((l) => [l.name, l.weights, l.bits, l.mults, l.adds]);
  assert.deepEqual(rows, [
    // 36 weights (9 per channel): 36 x 16 positions multiplies, (9 - 1) x 64 outputs additions
    ['dw', 36, 36 * 32, 36 * 16, 8 * 64],
    // read by the shortcut too: a scale and a shift per channel, one multiply and one addition per element
    ['bn', 8, 8 * 32, 64, 64],
    // 2x2 windows: one multiply and 3 additions per output (16 outputs)
    ['pool', 0, 0, 16, 48],
    ['pool', 0, 0, 16, 48],
    ['add.Tensor after pool', 0, 0, 0, 16],
  ]);
  assert.throws(
    () => scoreModel(new Residual('exp'), { rules: 'official', bits: 32, inputShape: [4, 4, 4] }),
    /cannot score the operator exp after 'pool': the forward computes it outside any layer, and no counting rule covers it/,
  );
  assert.throws(
    () => scoreModel(model, { rules: 'id56', bits: 32, inputShape: [4, 4, 4] }),
    /the id56 rules .* have no rule for add\.Tensor outside a layer/,
  );
  model.dispose();
});
