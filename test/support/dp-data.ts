// The generated data the data-parallel tests train on, the same in every process.
import { syntheticSplit, type Split } from '../../src/data/index.js';

function split(count: number, which: 'train' | 'test'): Split {
  const s = syntheticSplit('cifar100', count, 3, which);
  return { images: s.images, labels: s.fine, count, classes: 100, source: `synthetic ${which}` };
}

export const dpData = () => ({ train: split(160, 'train'), test: split(40, 'test') });
