// Quantized checkpoints: bit packing, the deployment file (integers, scales, ranges) saved and
// loaded back into a model whose integer simulation is the original's, zeros kept, `micronet eval`
// on such a file, bad files refused, and quantization-aware model checkpoints.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { WeightLayer, type Module } from '../src/nn/index.js';
import { buildModel } from '../src/models/registry.js';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../src/io/safetensors.js';
import { loadAnyCheckpoint, loadModelCheckpoint, saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { quantizationMetadata } from '../src/checkpoint/metadata.js';
import { Loader, loadSplit, writeSynthetic } from '../src/data/index.js';
import { evaluate } from '../src/train/evaluate.js';
import { pruneByStd } from '../src/prune/prune.js';
import * as Q from '../src/nn/fake-quant.js';
import { packedBytes, packSigned, unpackSigned } from '../src/quant/pack.js';
import {
  planFor,
  planOf,
  prepareQuantized,
  setIntegerSimulation,
  type QuantizationConfig,
} from '../src/quant/prepare.js';
import { saveQuantizedCheckpoint } from '../src/checkpoint/quantized-file.js';
import { cli } from './support/cli.js';
import { scratchDir } from './support/scratch.js';

const root = scratchDir('micronet-quantized-');

test('bit packing round trips every width 2..16, the extremes of the signed range included', () => {
  const g = new T.Generator(7);
  for (let bits = 2; bits <= 16; bits++) {
    const { min, max } = Q.signedRange(bits);
    const random = T.tidy(() => Array.from(T.randint(min, max + 1, [61], { generator: g }).data<'int64'>(), Number));
    const values = [min, max, -1, 0, 1, min + 1, max - 1, ...random]; // 68 values: the last byte is partial for odd widths
    const bytes = packSigned(values, bits);
    assert.equal(bytes.length, Math.ceil((values.length * bits) / 8), `${bits} bits take ${bits} bits each`);
    assert.equal(bytes.length, packedBytes(values.length, bits));
    assert.deepEqual([...unpackSigned(bytes, bits, values.length)], values, `${bits}-bit round trip`);
    assert.throws(() => packSigned([max + 1], bits), /not a signed/);
    assert.throws(() => packSigned([min - 1], bits), /not a signed/);
    assert.throws(() => unpackSigned(bytes.subarray(1), bits, values.length), /bytes for 68 packed/);
  }
  // The bit order: value i at bits 4i..4i+3, least significant first, two's complement.
  assert.deepEqual([...packSigned([1, -1, -8, 7], 4)], [0xf1, 0x78]);
  assert.deepEqual([...packSigned([-2, 1, 0], 3)], [0b00_001_110, 0]);
  assert.throws(() => unpackSigned(Uint8Array.of(0b10_001_110), 3, 2), /padding bits/);
  assert.throws(() => packSigned([0], 1), /bit width/);
});

// --- quantized googlenets, shared by the tests below ---

/**
 * Random images whose brightness and colour vary from one to the next: a random network tells
 * these apart (on plain Gaussian noise its pooled features, and so its predictions, barely move).
 */
const randomImages = (n: number, g: T.Generator) =>
  T.tidy(() =>
    T.randn([n, 3, 32, 32], { generator: g })
      .mul(T.rand([n, 1, 1, 1], { generator: g }).mul(3))
      .add(T.randn([n, 3, 1, 1], { generator: g })),
  );

/** Plain SGD steps on random data in training mode: the ranges are observed and the weights move after the last forward. */
function train(model: Module, steps: number, g: T.Generator): void {
  for (let i = 0; i < steps; i++) {
    T.tidy(() => {
      const x = randomImages(16, g);
      const y = T.randint(0, 100, [16], { generator: g });
      T.F.crossEntropy(model.forward(x, true), y).backward();
      T.noGrad(() => {
        for (const p of model.parameters()) {
          const grad = p.grad;
          if (grad) p.sub_(grad, 0.05);
          p.grad = null;
        }
      });
    });
  }
}

/**
 * A width-0.125 googlenet with settled BatchNorm statistics (40 small batches at momentum 0.1),
 * quantized under `config` and trained a few steps.
 */
function quantizedGoogLeNet(seed: number, config: Partial<QuantizationConfig>, steps: number) {
  const g = new T.Generator(seed);
  T.manualSeed(seed); // dropout draws from the default generator
  const built = buildModel('googlenet', { width: 0.125 }, { generator: g });
  T.noGrad(() => {
    for (let i = 0; i < 40; i++)
      T.tidy(() => {
        built.model.forward(randomImages(4, g), true);
      });
  });
  prepareQuantized(
    built.model,
    planFor(built.model, { weightBits: 8, actBits: 8, first: null, last: null, averagingConstant: 0.01, ...config }),
  );
  train(built.model, steps, g);
  return { ...built, g };
}

const layersOf = (model: Module) =>
  model.namedModules().filter((e): e is [string, WeightLayer] => e[1] instanceof WeightLayer);
const buffer = (layer: WeightLayer, name: string) => layer.stateDict().get(name)!;
/** A layer's weight integers as its eval computes with them (after an eval forward has set its scales). */
const integersOf = (layer: WeightLayer) =>
  T.tidy(() => {
    const s = buffer(layer, 'weight_scale');
    return Array.from(
      Q.integersOf(
        Q.fakeQuantizePerChannel(
          layer.effectiveWeight(),
          s,
          buffer(layer, 'weight_zero_point'),
          Q.signedRange(layer.bits!.weight),
        ),
        s,
      ).data<'float64'>(),
    );
  });
/** A layer's bias in units of input_scale*weight_scale, rounded as its integer simulation rounds it. */
// (+ 0: a bias rounding to -0 units is stored as the int32 0)
const units = (l: WeightLayer) =>
  T.tidy(() =>
    Array.from(
      l
        .bias!.to('float64')
        .div(buffer(l, 'input_scale').to('float64').mul(buffer(l, 'weight_scale').to('float64')))
        .round()
        .data<'float64'>(),
      (v) => v + 0,
    ),
  );
const logits = (model: Module, x: T.Tensor, integer: boolean) => {
  setIntegerSimulation(model, integer);
  return T.noGrad(() => model.forward(x, false));
};
const maxAbsDiff = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.sub(b).abs().max().item());
const top1 = (t: T.Tensor) => T.tidy(() => Array.from(t.argmax(1).data<'int64'>(), Number));

const eight = quantizedGoogLeNet(1, {}, 3);
const eightFile = join(root, 'eight.safetensors');
saveQuantizedCheckpoint(eightFile, eight.model, 'googlenet', eight.config, 'cifar100');
const images = randomImages(64, eight.g);
after(() => {
  eight.model.dispose();
  images.dispose();
});

test('an 8-bit googlenet saved as integers loads back with the same integers, scales and zero points, and computes as the original', () => {
  const origFake = logits(eight.model, images, false);
  const origInt = logits(eight.model, images, true);
  const file = readSafetensors(eightFile);
  const loaded = loadModelCheckpoint(eightFile);
  try {
    assert.equal(file.metadata.format, 'micronet-quantized/1');
    assert.deepEqual(JSON.parse(file.metadata.quantization!), planOf(eight.model));
    assert.equal(file.metadata.packed_shapes, undefined, 'nothing is packed at 8 bits');
    assert.deepEqual(planOf(loaded.model), planOf(eight.model));
    assert.equal(loaded.dataset, 'cifar100');
    assert.ok(
      ![...file.tensors.keys()].some((k) => k.endsWith('.mask') || k.endsWith('.weight_zero_point')),
      'no masks nor weight zero points are stored',
    );

    const loadedLayers = new Map(layersOf(loaded.model));
    for (const [name, layer] of layersOf(eight.model)) {
      const back = loadedLayers.get(name)!;
      assert.equal(back.observing, false, `${name}: its ranges are the file's, frozen`);
      assert.equal(back.integerSimulation, true);
      const stored = file.tensors.get(`${name}.weight`)!;
      assert.equal(stored.dtype, 'int8');
      const ints = integersOf(layer);
      assert.deepEqual(Array.from(stored.data<'int8'>()), ints, `${name}: the file holds the integers`);
      assert.deepEqual(integersOf(back), ints, `${name}: integers`);
      for (const b of [
        'weight_scale',
        'weight_zero_point',
        'input_scale',
        'input_zero_point',
        'input_min',
        'input_max',
      ]) {
        assert.deepEqual(buffer(back, b).data(), buffer(layer, b).data(), `${name}.${b}`);
      }
      // The weight is exactly the fake-quantized one, and the bias rounds back to the stored int32.
      const fq = T.tidy(() =>
        Q.fakeQuantizePerChannel(
          layer.effectiveWeight(),
          buffer(layer, 'weight_scale'),
          buffer(layer, 'weight_zero_point'),
          Q.signedRange(8),
        ).data(),
      );
      assert.deepEqual(back.effectiveWeight().data(), fq, `${name}: weight = integer * scale`);
      assert.equal(file.tensors.get(`${name}.bias`)!.dtype, 'int32');
      assert.deepEqual(
        Array.from(file.tensors.get(`${name}.bias`)!.data<'int32'>()),
        units(layer),
        `${name}: bias int32`,
      );
      assert.deepEqual(units(back), units(layer), `${name}: the loaded bias rounds to the same int32`);
    }

    const loadedInt = logits(loaded.model, images, true);
    const loadedFake = logits(loaded.model, images, false);
    const scale = T.tidy(() => origFake.abs().max().item());
    // The loaded integer simulation is the original's, bit for bit.
    assert.deepEqual(loadedInt.data(), origInt.data());
    // Against the fake-quantized float model the integer simulation differs where an activation lies
    // near a rounding boundary: float32 sums (and the bias in whole units) put it on the other side,
    // one quantization step, and later layers carry that on. Measured: logits within 2.2% of their
    // largest magnitude; top-1 the same on 60 of 64 images for this draw with torch 2.13 (59 for
    // the loaded fake-quantized model; the others' top-2 margins are below the logits' difference),
    // 59-64 over 8 draws for both. Bounds: 5%, and 58 of 64.
    const agree = (a: number[], b: number[]) => a.filter((c, i) => c === b[i]).length;
    const intVsFake = maxAbsDiff(loadedInt, origFake);
    const intAgree = agree(top1(loadedInt), top1(origFake));
    assert.ok(intVsFake > 0, 'the integer simulation is a different computation');
    assert.ok(intVsFake <= 5e-2 * scale, `integer vs fake: ${intVsFake} of logits up to ${scale}`);
    assert.ok(intAgree >= 58, `integer vs fake: the same top-1 on ${intAgree} of 64 images`);
    assert.ok(new Set(top1(origFake)).size > 1, 'the images are told apart');
    // The loaded fake-quantized model has the original's fake-quantized weights bit for bit (above)
    // and its bias rounded to whole units of input_scale*weight_scale (the file's int32): within
    // half a unit of the original's (plus float32's rounding of the bias itself), which moves its
    // logits as the integer simulation's move.
    for (const [name, layer] of layersOf(eight.model)) {
      const back = loadedLayers.get(name)!;
      const [moved, largest] = T.tidy(() => {
        const unit = buffer(layer, 'input_scale').to('float64').mul(buffer(layer, 'weight_scale').to('float64'));
        return [
          back.bias!.to('float64').sub(layer.bias!).div(unit).abs().max().item(),
          layer.bias!.to('float64').div(unit).abs().max().item(),
        ];
      });
      assert.ok(moved <= 0.5 + 2 ** -23 * largest, `${name}: bias moved by ${moved} units`);
    }
    const fakeVsFake = maxAbsDiff(loadedFake, origFake);
    const fakeAgree = agree(top1(loadedFake), top1(origFake));
    assert.ok(fakeVsFake <= 5e-2 * scale, `fake vs fake: ${fakeVsFake} of logits up to ${scale}`);
    assert.ok(fakeAgree >= 58, `fake vs fake: the same top-1 on ${fakeAgree} of 64 images`);
    console.log(
      `# 64 images, ${new Set(top1(origFake)).size} classes predicted, logits up to ${scale.toFixed(3)}: integer vs fake ${(intVsFake / scale).toExponential(2)} of it, ` +
        `top-1 the same on ${intAgree}; loaded fake vs fake ${(fakeVsFake / scale).toExponential(2)}, top-1 the same on ${fakeAgree}`,
    );
    for (const t of [origFake, origInt, loadedInt, loadedFake]) t.dispose();
  } finally {
    loaded.model.dispose();
    for (const t of file.tensors.values()) t.dispose();
  }
});

// Mixed widths, pruned: the first layer at 12 bits, the classifier at 16 (both int16), the rest at 4
// (packed). The classifier's biases are then tens of millions of units of input_scale*weight_scale,
// beyond float32's integers: the loaded float32 bias must still round to the stored int32.
const mixed = quantizedGoogLeNet(
  2,
  { weightBits: 4, first: { weight: 12, input: 8 }, last: { weight: 16, input: 12 } },
  1,
);
const pruned = pruneByStd(mixed.model, 'all', 0.5);
const mixedFile = join(root, 'mixed.safetensors');
saveQuantizedCheckpoint(mixedFile, mixed.model, 'googlenet', mixed.config);
after(() => mixed.model.dispose());

test('4-bit weights are stored packed: half the bytes of int8; 12 and 16 bits as int16', () => {
  const file = readSafetensors(mixedFile);
  const eightBit = readSafetensors(eightFile);
  logits(mixed.model, images, true).dispose(); // sets the original's weight scales from its current weights
  try {
    const shapes = JSON.parse(file.metadata.packed_shapes!) as Record<string, number[]>;
    const layers = layersOf(mixed.model);
    assert.equal(Object.keys(shapes).length, layers.length - 2, 'every 4-bit layer is packed');
    let packed = 0,
      asInt8 = 0;
    for (const [name, layer] of layers) {
      const t = file.tensors.get(`${name}.weight`)!;
      const kind = layer.bits!.weight === 4 ? 'uint8' : 'int16';
      assert.equal(t.dtype, kind, name);
      if (kind !== 'uint8') {
        assert.deepEqual(t.shape, layer.weight.shape);
        continue;
      }
      assert.deepEqual(shapes[`${name}.weight`], layer.weight.shape);
      assert.deepEqual(t.shape, [Math.ceil(layer.weight.numel / 2)], `${name}: two weights a byte`);
      assert.deepEqual(
        Array.from(unpackSigned(t.data<'uint8'>(), 4, layer.weight.numel)),
        integersOf(layer),
        `${name}: the packed integers`,
      );
      packed += t.numel;
      asInt8 += eightBit.tensors.get(`${name}.weight`)!.numel;
    }
    assert.ok(Math.abs(packed / asInt8 - 0.5) < 1e-3, `packed ${packed} bytes vs ${asInt8} at int8`);
  } finally {
    for (const t of [...file.tensors.values(), ...eightBit.tensors.values()]) t.dispose();
  }
});

test('pruned weights stay exactly zero through save and load, and the integer simulation is unchanged', () => {
  const loaded = loadModelCheckpoint(mixedFile);
  try {
    assert.ok(
      pruned.some((r) => r.after < r.before),
      'pruning removed weights',
    );
    const origInt = logits(mixed.model, images, true);
    const loadedInt = logits(loaded.model, images, true);
    assert.deepEqual(loadedInt.data(), origInt.data(), 'mixed-width integer simulation, bit for bit');
    const back = new Map(layersOf(loaded.model));
    let prunedZeros = 0;
    for (const [name, layer] of layersOf(mixed.model)) {
      const ints = integersOf(layer);
      const mask = layer.mask!.data<'float32'>();
      const w = back.get(name)!.effectiveWeight().data<'float32'>();
      const loadedMask = back.get(name)!.mask!.data<'float32'>();
      for (let i = 0; i < ints.length; i++) {
        if (mask[i] === 0) prunedZeros++;
        if (mask[i] === 0) assert.equal(w[i], 0, `${name}[${i}] was pruned`);
        assert.equal(w[i] === 0, ints[i] === 0, `${name}[${i}]: zero exactly where the integer is`);
        assert.equal(loadedMask[i], ints[i] === 0 ? 0 : 1, `${name}[${i}]: the mask is the integer's non-zeros`);
      }
      assert.deepEqual(integersOf(back.get(name)!), ints, `${name}: integers`);
      assert.deepEqual(units(back.get(name)!), units(layer), `${name}: bias int32`);
    }
    const classifier = units(back.get('linear')!).map(Math.abs);
    assert.ok(
      Math.max(...classifier) > 2 ** 24,
      `the 16-bit classifier's biases reach ${Math.max(...classifier)} units, beyond float32's integers`,
    );
    assert.equal(
      prunedZeros,
      pruned.reduce((n, r) => n + r.numel - r.after, 0),
    );
    origInt.dispose();
    loadedInt.dispose();
  } finally {
    loaded.model.dispose();
  }
});

test("micronet eval runs a quantized checkpoint's integer simulation, or with --simulate fake its fake-quantized model", async () => {
  const data = join(root, 'data');
  writeSynthetic(data, { train: 16, test: 64, seed: 3 });
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, 'eval', '--checkpoint', eightFile, '--data', data, ...args], {
      encoding: 'utf8',
    });
  const direct = async (integer: boolean) => {
    const { model } = loadAnyCheckpoint(eightFile);
    try {
      setIntegerSimulation(model, integer);
      return await evaluate(
        model,
        new Loader({ data: loadSplit(data, 'test'), pipeline: 'micronet-seed/test', batchSize: 128 }).epoch(0),
      );
    } finally {
      model.dispose();
    }
  };
  const integer = run('--json');
  assert.equal(integer.status, 0, integer.stderr);
  const fake = run('--json', '--simulate', 'fake');
  assert.equal(fake.status, 0, fake.stderr);
  const base = { checkpoint: eightFile, dataset: 'cifar100', split: 'test', norm: 'train' };
  const [wantInteger, wantFake] = [await direct(true), await direct(false)];
  assert.deepEqual(JSON.parse(integer.stdout), { ...base, simulate: 'integer', ...wantInteger });
  assert.deepEqual(JSON.parse(fake.stdout), { ...base, simulate: 'fake', ...wantFake });
  assert.equal(wantInteger.count, 64);
  assert.equal(wantInteger.correct1, wantFake.correct1, 'the same top-1 count either way');
  assert.notEqual(wantInteger.loss, wantFake.loss, 'two different computations');

  const text = run('--simulate', 'integer');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /arithmetic +integer simulation/);

  const float = join(root, 'float.safetensors');
  const plain = buildModel('googlenet', { width: 0.125 }, { generator: new T.Generator(5) });
  saveModelCheckpoint(float, plain.model, 'googlenet', plain.config);
  plain.model.dispose();
  const refused = spawnSync(
    process.execPath,
    [cli, 'eval', '--checkpoint', float, '--data', data, '--simulate', 'fake'],
    { encoding: 'utf8' },
  );
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /--simulate is for quantized models/);
});

test('bad quantized files are refused, naming the file and the problem', () => {
  const original = readSafetensors(mixedFile);
  const plan = JSON.parse(original.metadata.quantization!) as {
    layers: Record<string, { weight: number; input: number }>;
  };
  const names = Object.keys(plan.layers);
  const packedName = names.find((n) => plan.layers[n]!.weight === 4)!;
  const wideName = names.find((n) => plan.layers[n]!.weight === 12)!;
  const cases: [string, (tensors: Map<string, T.Tensor>, metadata: Record<string, string>) => void, RegExp][] = [
    [
      'bits 1',
      (_, m) => {
        m.quantization = JSON.stringify({ ...plan, layers: { ...plan.layers, [names[0]!]: { weight: 1, input: 8 } } });
      },
      /no valid quantization plan.*bit width must be an integer in 2\.\.16, got 1/,
    ],
    [
      'bits 17',
      (_, m) => {
        m.quantization = JSON.stringify({
          ...plan,
          layers: { ...plan.layers, [packedName]: { weight: 17, input: 8 } },
        });
      },
      /got 17/,
    ],
    [
      'a layer the model does not have',
      (_, m) => {
        m.quantization = JSON.stringify({ ...plan, layers: { ...plan.layers, 'a3.b9.0': { weight: 4, input: 8 } } });
      },
      /plan does not fit the model.*a3\.b9\.0/,
    ],
    [
      'a packed weight a byte short',
      (t) => {
        const w = t.get(`${packedName}.weight`)!;
        t.set(`${packedName}.weight`, w.narrow(0, 0, w.size(0) - 1));
      },
      /wrong packed size/,
    ],
    [
      'a packed weight stored at 8 bits',
      (t) => {
        t.set(
          `${packedName}.weight`,
          T.zeros(layersOf(mixed.model).find(([n]) => n === packedName)![1].weight.shape, { dtype: 'int8' }),
        );
      },
      /packed as uint8/,
    ],
    [
      'a 12-bit integer out of range',
      (t) => {
        const w = t.get(`${wideName}.weight`)!.clone();
        w.reshape([-1]).narrow(0, 0, 1).fill_(2048);
        t.set(`${wideName}.weight`, w);
      },
      /holds 2048, outside the signed 12-bit range -2048\.\.2047/,
    ],
    [
      'a missing layer',
      (t) => {
        for (const k of [...t.keys()]) if (k.startsWith(`${wideName}.`)) t.delete(k);
      },
      new RegExp(`${wideName.replace('.', '\\.')}\\.weight is missing`),
    ],
    [
      'a missing scale',
      (t) => {
        t.delete(`${packedName}.input_scale`);
      },
      /input_scale is missing/,
    ],
    [
      'a float bias',
      (t) => {
        t.set(`${packedName}.bias`, t.get(`${packedName}.bias`)!.float());
      },
      /bias must be int32/,
    ],
    [
      'a zero point beyond 8 bits',
      (t) => {
        t.set(`${packedName}.input_zero_point`, T.full([], 300, { dtype: 'int32' }));
      },
      /outside the unsigned 8-bit range/,
    ],
    [
      'a mask',
      (t) => {
        t.set(`${packedName}.mask`, T.ones(layersOf(mixed.model).find(([n]) => n === packedName)![1].weight.shape));
      },
      /unexpected tensor .*mask/,
    ],
    [
      "a packed shape that is not the model's",
      (_, m) => {
        m.packed_shapes = JSON.stringify({ ...JSON.parse(m.packed_shapes!), [`${packedName}.weight`]: [1, 2] });
      },
      /recorded shape \[1,2\]/,
    ],
    [
      'a packed weight whose shape the metadata does not record',
      (_, m) => {
        const shapes = JSON.parse(m.packed_shapes!) as Record<string, number[]>;
        delete shapes[`${packedName}.weight`];
        m.packed_shapes = JSON.stringify(shapes);
      },
      /is packed, but metadata 'packed_shapes' records no shape for it/,
    ],
    [
      'a weight scale tampered to a denormal (the scale is named, not the bias)',
      (t) => {
        const s = t.get(`${packedName}.weight_scale`)!.clone();
        s.narrow(0, 0, 1).fill_(1e-40);
        t.set(`${packedName}.weight_scale`, s);
      },
      /weight_scale\[0\] = [\d.]+e-41 is outside \[2\^-23, 2\^32\], the range of scales an observer gives/,
    ],
    [
      'an input scale tampered to a huge value',
      (t) => {
        t.set(`${packedName}.input_scale`, T.full([], 1e30));
      },
      /input_scale = [\d.]+e\+30 is outside \[2\^-23, 2\^32\]/,
    ],
    [
      'bits given as a string',
      (_, m) => {
        const plan = JSON.parse(m.quantization!) as { layers: Record<string, { weight: unknown }> };
        plan.layers[packedName]!.weight = '4';
        m.quantization = JSON.stringify(plan);
      },
      /bit width must be an integer in 2\.\.16, got "4"/,
    ],
  ];
  try {
    for (const [what, edit, message] of cases) {
      const tensors = new Map(original.tensors);
      const metadata = { ...original.metadata };
      T.tidy(() => {
        edit(tensors, metadata);
        const path = join(root, 'bad.safetensors');
        writeSafetensors(path, tensors, metadata);
        assert.throws(
          () => loadModelCheckpoint(path),
          (e: Error) => e.message.includes(path) && message.test(e.message),
          what,
        );
      });
    }
    const bytes = readFileSync(mixedFile);
    const truncated = join(root, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    assert.throws(
      () => loadModelCheckpoint(truncated),
      (e: Error) => e.message.includes(truncated),
      'a truncated file',
    );
    const float = buildModel('googlenet', { width: 0.125 });
    assert.throws(
      () => saveQuantizedCheckpoint(join(root, 'not-quantized.safetensors'), float.model, 'googlenet', float.config),
      /not quantized/,
    );
    float.model.dispose();
  } finally {
    for (const t of original.tensors.values()) t.dispose();
  }
});

test('a quantization-aware model checkpoint loads back quantized, with an identical state dict', () => {
  const path = join(root, 'qat.safetensors');
  saveModelCheckpoint(path, eight.model, 'googlenet', eight.config, { epoch: 3 });
  assert.deepEqual(JSON.parse(readSafetensorsMetadata(path).quantization!), planOf(eight.model));
  assert.deepEqual(quantizationMetadata(eight.model), { quantization: JSON.stringify(planOf(eight.model)) });
  const loaded = loadModelCheckpoint(path);
  try {
    assert.deepEqual(planOf(loaded.model), planOf(eight.model));
    const want = eight.model.stateDict();
    const got = loaded.model.stateDict();
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [k, t] of want) {
      assert.equal(got.get(k)!.dtype, t.dtype, k);
      assert.deepEqual(got.get(k)!.data(), t.data(), k);
    }
    assert.ok(
      layersOf(loaded.model).every(([, l]) => l.observing && !l.integerSimulation),
      'a training model: ranges observed, fake-quantized',
    );
  } finally {
    loaded.model.dispose();
  }

  // Right after prepareQuantized no range is observed yet (+inf, -inf): that loads too.
  const fresh = buildModel('googlenet', { width: 0.125 }, { generator: new T.Generator(6) });
  assert.deepEqual(quantizationMetadata(fresh.model), {}, 'a float model records no plan');
  prepareQuantized(
    fresh.model,
    planFor(fresh.model, { weightBits: 6, actBits: 7, first: null, last: null, averagingConstant: 0.1 }),
  );
  const freshPath = join(root, 'fresh.safetensors');
  saveModelCheckpoint(freshPath, fresh.model, 'googlenet', fresh.config);
  assert.throws(
    () => saveQuantizedCheckpoint(join(root, 'unobserved.safetensors'), fresh.model, 'googlenet', fresh.config),
    /input range was never observed/,
  );
  const back = loadModelCheckpoint(freshPath);
  try {
    assert.deepEqual(planOf(back.model), planOf(fresh.model));
    for (const [k, t] of fresh.model.stateDict()) assert.deepEqual(back.model.stateDict().get(k)!.data(), t.data(), k);
  } finally {
    back.model.dispose();
    fresh.model.dispose();
  }
});
