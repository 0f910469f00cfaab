// Recipes: schedules as pure functions, validated overrides, and both seed recipes against an
// independent PyTorch implementation (torch.optim.SGD, MultiStepLR) on the same batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import {
  applyOverrides,
  findRecipe,
  RecipeError,
  recipeNames,
  validateRecipe,
  type Recipe,
} from '../src/recipes/index.js';
import { learningRate } from '../src/train/schedule.js';
import { createOptimizer, type SgdConfig } from '../src/optim/index.js';
import { beginEpoch, readStep, trainStep } from '../src/train/step.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { TinyNet } from './support/tiny-net.js';
import { scratchDir } from './support/scratch.js';
import { torchPython } from './support/oracle.js';

const oracle = fileURLToPath(new URL('../../test/support/recipe_oracle.py', import.meta.url));

test("id56-notebook learning rates are docs/SPEC.md §4.3's effective table", () => {
  const r = findRecipe('id56-notebook');
  const prunes = r.pruning.events.map((e) => e.epoch);
  const lr = (epoch: number) => learningRate(r.schedule, prunes, { epoch, batch: 0, batchesPerEpoch: 391 });
  const table: [number, number, number][] = [
    [3, 59, 0.1],
    [60, 100, 0.02],
    [101, 119, 0.01],
    [120, 159, 0.001],
    [160, 179, 1e-4],
    [180, 199, 1e-5],
    [200, 200, 1e-6],
  ];
  for (const [from, to, expected] of table) {
    for (let e = from; e <= to; e++)
      assert.ok(Math.abs(lr(e) - expected) <= 1e-12 * expected, `epoch ${e}: ${lr(e)} vs ${expected}`);
  }
});

test('warm-up rises per batch as lr*t/T over two epochs', () => {
  const r = findRecipe('micronet-seed');
  const at = (epoch: number, batch: number) => learningRate(r.schedule, [], { epoch, batch, batchesPerEpoch: 10 });
  assert.equal(at(1, 0), (0.1 * 1) / 20);
  assert.equal(at(1, 9), (0.1 * 10) / 20);
  assert.equal(at(2, 9), 0.1);
  assert.equal(at(3, 0), 0.1);
  assert.ok(Math.abs(at(60, 0) - 0.01) < 1e-15 && Math.abs(at(200, 5) - 1e-6) < 1e-18);
});

test('recipes are validated; overrides are type-checked and unknown fields refused', () => {
  assert.deepEqual(recipeNames(), ['micronet-seed', 'id56-notebook', 'smoke', 'micronet-seed-qat', 'qat']);
  const r = applyOverrides(findRecipe('smoke'), [
    'epochs=12',
    'optimizer.nesterov=false',
    'schedule.milestones=[9,11]',
    'model.config.width=0.25',
  ]);
  assert.deepEqual(
    [r.epochs, (r.optimizer as SgdConfig).nesterov, r.schedule.milestones, r.model.config.width],
    [12, false, [9, 11], 0.25],
  );
  assert.equal(findRecipe('smoke').epochs, 8, 'overrides work on a copy');
  assert.throws(() => applyOverrides(findRecipe('smoke'), ['epochz=3']), /unknown recipe field 'epochz'/);
  assert.throws(
    () => applyOverrides(findRecipe('smoke'), ['epochs=three']),
    /--set epochs: expected a number, got 'three'/,
  );
  assert.throws(() => applyOverrides(findRecipe('smoke'), ['optimizer.nesterov=yes']), /expected true or false/);
  assert.throws(() => applyOverrides(findRecipe('smoke'), ['schedule.milestones=5']), /expected a JSON array/);
  assert.throws(() => applyOverrides(findRecipe('smoke'), ['epochs=0']), /epochs must be an integer in 1\.\.100000/);
  assert.throws(
    () => applyOverrides(findRecipe('smoke'), ['optimizer.momentum=0']),
    /Nesterov momentum needs momentum > 0/,
  );
  assert.throws(
    () => applyOverrides(findRecipe('smoke'), ['epochs=3']),
    /pruning\.events\[0\] \(epoch 4\), .* are after the last epoch \(3\)/,
  );
  assert.throws(
    () => findRecipe('nope'),
    /unknown recipe 'nope' \(known: micronet-seed, id56-notebook, smoke, micronet-seed-qat, qat\)/,
  );
});

test('every model option of every recipe can be overridden, within sane bounds; the classes must fit the data set', () => {
  for (const name of recipeNames()) {
    const r = applyOverrides(findRecipe(name), ['model.config.width=0.5', 'model.config.dropout=0.2']);
    assert.deepEqual([r.model.config.width, r.model.config.dropout], [0.5, 0.2], name);
  }
  assert.throws(
    () => applyOverrides(findRecipe('micronet-seed'), ['model.config.width=10000']),
    /width must be in \(0, 4\], got 10000/,
  );
  assert.throws(
    () => applyOverrides(findRecipe('smoke'), ['data.dataset=cifar10']),
    /model googlenet has 100 classes, cifar10 has 10: set model\.config\.numClasses=10/,
  );
  const cifar10 = applyOverrides(findRecipe('smoke'), ['data.dataset=cifar10', 'model.config.numClasses=10']);
  assert.equal(cifar10.model.config.numClasses, 10);
  assert.throws(() => validateRecipe(undefined as never), /a recipe must be an object/);
});

/** A compressed schedule with every phase: warm-up, a milestone, pruning events (conv, linear, conv), fine-tuning. */
function compressed(name: string): Recipe {
  return applyOverrides(findRecipe(name), [
    'epochs=10',
    'schedule.warmupEpochs=2',
    'schedule.milestones=[5,8]',
    'pruning.events=[{"epoch":4,"layers":"conv"},{"epoch":5,"layers":"linear"},{"epoch":6,"layers":"conv"}]',
  ]);
}

for (const name of ['micronet-seed', 'id56-notebook']) {
  test(`${name}: PyTorch gives the same lr at every step and the same parameters after 240 steps`, () => {
    const recipe = compressed(name);
    const perEpoch = 24;
    const g = new T.Generator(11);
    const model = new TinyNet(new T.Generator(5));
    const dir = scratchDir();
    const xs = T.randn([recipe.epochs * perEpoch, 8, 3, 8, 8], { generator: g });
    const ys = T.randint(0, 10, [recipe.epochs * perEpoch, 8], { generator: g });
    writeSafetensors(join(dir, 'w.safetensors'), model.stateDict());
    writeSafetensors(
      join(dir, 'b.safetensors'),
      new Map([
        ['x', xs],
        ['y', ys],
      ]),
    );
    writeFileSync(join(dir, 'recipe.json'), JSON.stringify(recipe));
    execFileSync(torchPython, [
      oracle,
      join(dir, 'recipe.json'),
      join(dir, 'w.safetensors'),
      join(dir, 'b.safetensors'),
      join(dir, 'out.safetensors'),
      String(T.getNumThreads()),
    ]);
    const theirs = readSafetensors(join(dir, 'out.safetensors')).tensors;

    const optimizer = createOptimizer(model.namedParameters(), recipe.optimizer);
    const prunes = recipe.pruning.events.map((e) => e.epoch);
    const lrs: number[] = [];
    const losses: number[] = [];
    for (let epoch = 1; epoch <= recipe.epochs; epoch++) {
      beginEpoch(model, optimizer, recipe, epoch);
      for (let b = 0; b < perEpoch; b++) {
        const i = (epoch - 1) * perEpoch + b;
        const lr = learningRate(recipe.schedule, prunes, { epoch, batch: b, batchesPerEpoch: perEpoch });
        lrs.push(lr);
        losses.push(
          T.tidy(
            () =>
              readStep(
                trainStep(model, optimizer, recipe, xs.narrow(0, i, 1).squeeze(0), ys.narrow(0, i, 1).squeeze(0), lr),
              ).loss,
          ),
        );
      }
    }
    const theirLrs = theirs.get('lrs')!.data<'float64'>();
    lrs.forEach((lr, i) =>
      assert.ok(Math.abs(lr - theirLrs[i]!) <= 1e-12 * theirLrs[i]!, `step ${i}: lr ${lr} vs PyTorch ${theirLrs[i]}`),
    );
    const theirLosses = theirs.get('losses')!.data<'float64'>();
    losses.forEach((l, i) =>
      assert.ok(
        Math.abs(l - theirLosses[i]!) <= 1e-4 * Math.abs(theirLosses[i]!),
        `step ${i}: loss ${l} vs PyTorch ${theirLosses[i]}`,
      ),
    );
    // Same kernels and thread count: fp32 differences stay at summation-order level (bound 1e-4 of each tensor's scale).
    for (const [key, ours] of model.stateDict()) {
      const expected = theirs.get(key)!;
      const err = T.tidy(
        () =>
          ours.float().sub(expected.float()).abs().max().item() / Math.max(expected.float().abs().max().item(), 1e-12),
      );
      if (key.endsWith('.mask')) assert.equal(err, 0, `${key}: the same weights pruned`);
      else assert.ok(err < 1e-4, `${key}: relative difference ${err}`);
    }
    const zeros = T.tidy(() => model.conv1.mask!.eq(0).sum().item() + model.fc.mask!.eq(0).sum().item());
    assert.ok(zeros > 0, 'pruning removed weights');
    model.dispose();
  });
}

test('a pruning event or milestone after the last epoch is named, with the override that drops it', () => {
  const smoke = findRecipe('smoke');
  assert.throws(
    () => applyOverrides(smoke, ['epochs=5']),
    (e: Error) =>
      e instanceof RecipeError &&
      e.message.includes(
        "schedule.milestones[0] (epoch 7) is after the last epoch (5): a milestone there never happens; drop it with --set 'schedule.milestones=[]'",
      ) &&
      e.message.includes('pruning.events[2] (epoch 6) is after the last epoch (5)') &&
      !e.message.includes('pruning.events[1]'),
  );
  // The suggested overrides are the fix.
  const fixed = applyOverrides(smoke, [
    'epochs=5',
    'schedule.milestones=[]',
    'pruning.events=[{"epoch":4,"layers":"conv"},{"epoch":5,"layers":"linear"}]',
  ]);
  assert.equal(fixed.pruning.events.length, 2);
  assert.throws(
    () => applyOverrides(smoke, ['pruning.events=[{"epoch":2,"layers":"convs"}]']),
    /pruning\.events\[0\] must be \{epoch/,
  );
  const qat = findRecipe('micronet-seed-qat');
  assert.throws(
    () => applyOverrides(qat, ['quantization.milestones=[230]']),
    /quantization\.milestones\[0\] \(epoch 230\) is after the last epoch \(220\)/,
  );
});
