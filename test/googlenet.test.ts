// The seed GoogLeNet against PyTorch's version of it: same weights, same logits and gradients;
// a checkpoint saved by PyTorch in the entry's layout imports and reproduces its logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { type BatchNorm2d, Conv2d, Linear } from '../src/nn/index.js';
import { GoogLeNet } from '../src/models/googlenet.js';
import { buildModel } from '../src/models/registry.js';
import { extractStateDict, loadTensors, readTorchFile } from '../src/checkpoint/torch-file.js';
import { runGoogLeNetOracle } from './support/googlenet-oracle.js';
import { scratchDir } from './support/scratch.js';
import { relativeError } from './support/oracle.js';

test("the network has the entry's 6,258,500 parameters and PyTorch state_dict names", () => {
  const model = new GoogLeNet();
  assert.equal(model.numParameters(), 6_258_500);
  const keys = [...model.stateDict().keys()];
  assert.deepEqual(keys.slice(0, 8), [
    'prelayer.0.weight',
    'prelayer.0.mask',
    'prelayer.0.bias',
    'prelayer.1.weight',
    'prelayer.1.bias',
    'prelayer.1.running_mean',
    'prelayer.1.running_var',
    'prelayer.1.num_batches_tracked',
  ]);
  assert.ok(keys.includes('b5.b4.1.mask') && keys.includes('linear.mask') && keys.at(-1) === 'linear.bias');
  const weights = model.namedModules().filter(([, m]) => m instanceof Conv2d || m instanceof Linear);
  assert.equal(weights.length, 65); // 1 prelayer conv + 9 inceptions x 7 convs + the classifier
  assert.ok(weights.every(([, m]) => (m as Conv2d | Linear).masked));
  model.dispose();
});

test('BatchNorm b3.4 carries the epsilon quirk unless fixed', () => {
  const eps = (m: GoogLeNet) => m.inceptions.map((inc) => (inc.b3.layers[4] as BatchNorm2d).eps);
  const quirky = buildModel('googlenet').model as GoogLeNet;
  assert.deepEqual(eps(quirky), [32, 96, 48, 64, 64, 64, 128, 128, 128]);
  assert.equal((quirky.inceptions[0]!.b3.layers[7] as BatchNorm2d).eps, 1e-5);
  const fixed = buildModel('googlenet-fixed-eps').model as GoogLeNet;
  assert.deepEqual(eps(fixed), Array(9).fill(1e-5));
  quirky.dispose();
  fixed.dispose();
});

test('initialisation is uniform within 1/sqrt(fan_in), BatchNorm at identity', () => {
  const model = new GoogLeNet(undefined, { generator: new T.Generator(1) });
  const conv = model.prelayer.layers[0] as Conv2d;
  const bound = 1 / Math.sqrt(27);
  T.tidy(() => {
    assert.ok(conv.weight.abs().max().item() <= bound);
    assert.ok(conv.weight.abs().max().item() > 0.95 * bound);
    assert.ok(Math.abs(conv.weight.mean().item()) < 0.01 * bound * 10);
    assert.ok(Math.abs(conv.weight.std().item() - bound / Math.sqrt(3)) < 0.05 * bound);
  });
  const bn = model.stateDict();
  assert.deepEqual(
    [...bn.get('prelayer.1.weight')!.data()].every((v) => v === 1),
    true,
  );
  assert.deepEqual(
    [...bn.get('prelayer.1.running_var')!.data()].every((v) => v === 1),
    true,
  );
  model.dispose();
});

test("same weights give PyTorch's logits (eval and train), gradients and running stats", () => {
  const model = new GoogLeNet(undefined, { generator: new T.Generator(2) });
  const g = new T.Generator(3);
  const x = T.randn([4, 3, 32, 32], { generator: g });
  const upstream = T.randn([4, 100], { generator: g });
  const seed = 17;
  const theirs = runGoogLeNetOracle('parity', model.stateDict(), {
    x,
    upstream,
    seed: T.tensor(new BigInt64Array([BigInt(seed)])),
  });

  const evalLogits = T.noGrad(() => model.forward(x, false));
  T.manualSeed(seed);
  const trainLogits = model.forward(x, true);
  trainLogits.backward(upstream);

  // Same kernels, same thread count: differences only from summation order (stated bound 1e-4).
  assert.ok(relativeError(evalLogits, theirs.get('eval_logits')!) < 1e-4, 'eval logits');
  assert.ok(relativeError(trainLogits, theirs.get('train_logits')!) < 1e-4, 'train logits');
  let compared = 0;
  const params = new Map(model.namedParameters());
  for (const [name, p] of params) {
    // A convolution's bias feeds a BatchNorm, which takes the mean out: its true gradient is 0 and
    // both sides compute rounding noise, which is held to the scale of the layer's weight gradient.
    const weight = params.get(name.replace(/\.bias$/, '.weight'))!;
    const scale = name.endsWith('.bias') && weight.ndim === 4 ? T.tidy(() => weight.grad!.abs().max().item()) : null;
    const err =
      scale === null
        ? relativeError(p.grad!, theirs.get(`grad.${name}`)!)
        : T.tidy(
            () =>
              p
                .grad!.sub(theirs.get(`grad.${name}`)!)
                .abs()
                .max()
                .item() / scale,
          );
    assert.ok(err < 1e-4, `gradient of ${name}: relative error ${err}`);
    compared++;
  }
  assert.equal(compared, 65 * 2 + 64 * 2); // weights and biases of 65 layers, affine of 64 BatchNorms
  let buffers = 0;
  for (const [name, b] of model.namedBuffers()) {
    if (name.endsWith('.mask')) continue; // a non-trainable Parameter on the PyTorch side
    const expected = theirs.get(`buffer.${name}`)!;
    buffers++;
    if (name.endsWith('num_batches_tracked')) assert.equal(b.item(), expected.item(), name);
    else assert.ok(relativeError(b, expected) < 1e-4, `buffer ${name}`);
  }
  assert.equal(buffers, 64 * 3);
  model.dispose();
});

test("a .pth saved by PyTorch in the entry's layout imports and reproduces its logits", () => {
  const model = new GoogLeNet(undefined, { generator: new T.Generator(4) });
  const g = new T.Generator(5);
  const x = T.randn([2, 3, 32, 32], { generator: g });
  const y = T.randint(0, 100, [2], { generator: g });
  const pth = join(scratchDir(), 'entry.pth');
  const theirs = runGoogLeNetOracle('save-pth', model.stateDict(), { x, y }, [pth]);

  const loaded = readTorchFile(pth) as Map<string, unknown>;
  assert.deepEqual([...loaded.keys()], ['epoch', 'model_state_dict', 'optimizer_state_dict']);
  assert.equal(loaded.get('epoch'), 7);
  const optimizer = loaded.get('optimizer_state_dict') as Map<string, unknown>;
  const groups = optimizer.get('param_groups') as Map<string, unknown>[];
  assert.equal(groups[0]!.get('momentum'), 0.9);
  assert.equal((optimizer.get('state') as Map<number, unknown>).size, 65 * 2 + 64 * 2);

  const { stateDict, from } = extractStateDict(loaded, pth);
  assert.equal(from, "'model_state_dict'");
  const imported = new GoogLeNet();
  const tensors = loadTensors(stateDict);
  imported.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  const logits = T.noGrad(() => imported.forward(x, false));
  assert.ok(relativeError(logits, theirs.get('eval_logits')!) < 1e-4);
  model.dispose();
  imported.dispose();
});
