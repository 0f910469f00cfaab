// Synthetic data sets: official formats, seeded, and with classes a model can learn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset, syntheticSplit, writeSynthetic } from '../src/data/index.js';
import { scratchDir } from './support/scratch.js';

const dir = scratchDir('micronet-data-syn-');

test('written in both official versions, which read back the same', () => {
  writeSynthetic(join(dir, 'a'), { dataset: 'cifar10', train: 60, test: 20, seed: 3, versions: ['binary', 'python'] });
  const binary = loadDataset(join(dir, 'a'), { dataset: 'cifar10' });
  rmSync(join(dir, 'a', 'cifar-10-batches-bin'), { recursive: true });
  const python = loadDataset(join(dir, 'a'), { dataset: 'cifar10' });
  assert.equal(binary.train.count, 60);
  assert.deepEqual(python.train.images, binary.train.images);
  assert.deepEqual(python.test.labels, binary.test.labels);
  assert.deepEqual(syntheticSplit('cifar10', 60, 3, 'train').images, binary.train.images, 'same seed, same data');
  assert.notDeepEqual(syntheticSplit('cifar10', 60, 4, 'train').images, binary.train.images);
});

test('classes are learnable: a nearest-class-mean classifier on colour features beats chance by far', () => {
  const train = syntheticSplit('cifar10', 2000, 0, 'train');
  const test_ = syntheticSplit('cifar10', 500, 0, 'test');
  // feature: mean of each channel
  const feature = (images: Uint8Array, i: number) =>
    [0, 1, 2].map((c) => {
      let s = 0;
      for (let p = 0; p < 1024; p++) s += images[i * 3072 + c * 1024 + p]!;
      return s / 1024;
    });
  const means = Array.from({ length: 10 }, () => [0, 0, 0, 0]);
  for (let i = 0; i < 2000; i++)
    feature(train.images, i).forEach((v, c) => {
      means[train.fine[i]!]![c]! += v;
      means[train.fine[i]!]![3]! += c === 0 ? 1 : 0;
    });
  let right = 0;
  for (let i = 0; i < 500; i++) {
    const f = feature(test_.images, i);
    let best = -1,
      bestD = Infinity;
    means.forEach((m, k) => {
      const d = f.reduce((s, v, c) => s + (v - m[c]! / m[3]!) ** 2, 0);
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    if (best === test_.fine[i]) right++;
  }
  assert.ok(right / 500 > 0.5, `accuracy ${right / 500} (chance 0.1)`);
});
