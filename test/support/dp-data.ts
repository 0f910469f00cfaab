// The generated data the data-parallel tests train on, the same in every process.
import { generatedSplit, type Split } from '../../src/data/index.js';

const split = (count: number, which: 'train' | 'test'): Split => generatedSplit(count, 3, which);

export const dpData = () => ({ train: split(160, 'train'), test: split(40, 'test') });
