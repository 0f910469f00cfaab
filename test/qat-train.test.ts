// Quantization-aware training in the trainer: the phase starts on schedule (BatchNorm folded,
// layers quantized, a fresh optimizer, its own learning rate), keeps the pruning masks, freezes
// the ranges when due, and an interrupted QAT run resumes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchNorm2d, Identity, WeightLayer } from '../src/nn/index.js';
import { generatedSplit, type Split } from '../src/data/index.js';
import { applyOverrides, findRecipe } from '../src/recipes/index.js';
import { learningRate } from '../src/train/schedule.js';
import { train } from '../src/train/trainer.js';
import { sparsity } from '../src/prune/prune.js';
import { scratchDir } from './support/scratch.js';

const split = (count: number, which: 'train' | 'test'): Split => generatedSplit(count, 2, which);
const data = { train: split(96, 'train'), test: split(32, 'test') };

// Float epochs 1-2 (pruning before 2), QAT epochs 3-4 at 6/8 bits, ranges frozen in epoch 4.
const recipe = applyOverrides(findRecipe('smoke'), [
  'model.config.width=0.0625',
  'data.batchSize=32',
  'data.workers=0',
  'epochs=4',
  'schedule.warmupEpochs=1',
  'schedule.milestones=[2]',
  'pruning.events=[{"epoch":2,"layers":"all"}]',
  'quantization={"weightBits":6,"actBits":8,"first":{"weight":8,"input":8},"last":null,"averagingConstant":0.01,"startEpoch":3,"lr":0.002,"milestones":[4],"gamma":0.5,"freezeEpoch":4}',
]);

const withoutTiming = (h: { seconds: number; imagesPerSecond: number }[]) =>
  h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

test('QAT starts on schedule, keeps the masks, follows its own learning rate and freezes the ranges', async () => {
  const lrs: { epoch: number; lr: number }[] = [];
  const messages: string[] = [];
  const run = await train(recipe, {
    dataDir: '',
    outDir: scratchDir(),
    data,
    events: {
      step: ({ epoch, lr }) => {
        lrs.push({ epoch, lr });
      },
      message: (m) => {
        messages.push(m);
      },
    },
  });
  assert.equal(run.completed, true);
  const modules = run.model.namedModules();
  assert.equal(modules.filter(([, m]) => m instanceof BatchNorm2d).length, 0, 'no BatchNorm left');
  assert.ok(modules.filter(([, m]) => m instanceof Identity).length > 0);
  const layers = modules.filter((e): e is [string, WeightLayer] => e[1] instanceof WeightLayer);
  assert.deepEqual(layers[0]![1].bits, { weight: 8, input: 8 }, 'the first layer set apart');
  assert.deepEqual(layers[1]![1].bits, { weight: 6, input: 8 });
  assert.deepEqual(layers.at(-1)![1].bits, { weight: 6, input: 8 });
  assert.ok(
    layers.every(([, l]) => !l.observing),
    'ranges frozen in the last epoch',
  );
  assert.ok(messages.some((m) => /epoch 3: quantization-aware training begins/.test(m)));

  // Sparsity is what pruning left: QAT neither revives nor adds zeros (symmetric grids keep 0 at 0).
  const [, e2, e3, e4] = run.history;
  assert.ok(e2!.sparsity > 0.05);
  assert.equal(e3!.sparsity, e2!.sparsity);
  assert.equal(e4!.sparsity, e2!.sparsity);
  const s = sparsity(run.model);
  assert.equal(s.zeros / s.total, e2!.sparsity);

  const q = recipe.quantization!;
  for (const { epoch, lr } of lrs.filter((l) => l.epoch >= 3))
    assert.equal(lr, learningRate(recipe.schedule, [2], { epoch, batch: 0, batchesPerEpoch: 3 }, q));
  assert.deepEqual([...new Set(lrs.filter((l) => l.epoch >= 3).map((l) => l.lr))], [0.002, 0.001]);
  run.model.dispose();
});

test('an interrupted QAT run resumes exactly', async () => {
  const whole = await train(recipe, { dataDir: '', outDir: scratchDir(), data });
  const outDir = scratchDir();
  let steps = 0;
  const first = await train(recipe, { dataDir: '', outDir, data, shouldStop: () => ++steps === 8 }); // epoch 3, batch 2 of 3
  assert.equal(first.completed, false);
  first.model.dispose();
  const resumed = await train(recipe, { dataDir: '', outDir, data, resume: true });
  assert.equal(resumed.completed, true);
  const ours = resumed.model.stateDict();
  for (const [key, t] of whole.model.stateDict()) assert.deepEqual(ours.get(key)!.data(), t.data(), key);
  assert.deepEqual(withoutTiming(resumed.history), withoutTiming(whole.history));
  whole.model.dispose();
  resumed.model.dispose();
});

test('QAT recipes are validated', () => {
  assert.throws(
    () => applyOverrides(recipe, ['quantization.weightBits=1']),
    /quantization\.weightBits: bit width must be an integer in 2\.\.16, got 1/,
  );
  assert.throws(
    () => applyOverrides(recipe, ['quantization.startEpoch=9']),
    /quantization\.startEpoch must be in 1\.\.epochs/,
  );
  assert.throws(
    () => applyOverrides(recipe, ['quantization.startEpoch=2']),
    /pruning events must come before quantization\.startEpoch/,
  );
  assert.throws(() => applyOverrides(recipe, ['precision=bfloat16']), /quantization-aware training runs in float32/);
  assert.equal(applyOverrides(recipe, ['quantization=null']).quantization, null);
  const seedQat = findRecipe('micronet-seed-qat');
  assert.deepEqual([seedQat.epochs, seedQat.quantization!.startEpoch, seedQat.quantization!.weightBits], [220, 201, 8]);
});
