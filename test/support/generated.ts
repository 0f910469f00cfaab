// Generated data and the small recipe the tests train on.
import * as T from '../../src/torch/index.js';
import type { Split } from '../../src/data/index.js';
import { syntheticSplit } from '../../src/data/synthetic.js';
import { applyOverrides, findRecipe } from '../../src/recipes/index.js';

/** A generated CIFAR-10-format split (seed 1): ten classes, so that chance is 10%. */
export function cifar10Split(count: number, which: 'train' | 'test'): Split {
  const s = syntheticSplit('cifar10', count, 1, which);
  return { images: s.images, labels: s.fine, count, classes: 10, source: `synthetic ${which}` };
}

/** A split's images as one NCHW float batch, normalised about as the test pipelines do, and its labels. */
export function batchOf(split: Pick<Split, 'images' | 'labels' | 'count'>): { x: T.Tensor; y: T.Tensor } {
  const x = T.tidy(() =>
    T.tensor(split.images, { shape: [split.count, 3, 32, 32] })
      .float()
      .div(255)
      .sub(0.5)
      .div(0.25),
  );
  return { x, y: T.tensor(BigInt64Array.from(split.labels, BigInt)) };
}

/** The smoke recipe at 1/16 width over 3 epochs of 5 batches, with a conv and a linear pruning event. */
export const tinySmoke = applyOverrides(findRecipe('smoke'), [
  'model.config.width=0.0625',
  'data.batchSize=32',
  'data.workers=0',
  'epochs=3',
  'schedule.warmupEpochs=1',
  'schedule.milestones=[3]',
  'pruning.events=[{"epoch":2,"layers":"conv"},{"epoch":3,"layers":"linear"}]',
]);
