// The recipes micronet ships: the seed entry as written, as its notebook ran, and a smoke test.
import { modelConfig } from '../models/registry.js';
import type { SgdConfig } from '../optim/index.js';
import { RecipeError, validateRecipe, type Recipe } from './recipe.js';
import type { PruneEvent } from './slices.js';

/** Conv, linear, conv, ... before each of the given epochs. */
function alternating(epochs: number[]): PruneEvent[] {
  return epochs.map((epoch, i) => ({ epoch, layers: i % 2 === 0 ? 'conv' : 'linear' }));
}

const seedSgd: SgdConfig = { name: 'sgd', momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true };
const seedEvents = alternating([101, 103, 105, 107, 109, 111, 151, 153, 155, 157, 159, 161]);

/** What the write-up describes (docs/SPEC.md §4.1). */
const micronetSeed: Recipe = {
  name: 'micronet-seed',
  description:
    'the entry as its write-up describes it: GoogLeNet, 200 epochs, Nesterov SGD, warm-up, step schedule, label smoothing, cutout, iterative std pruning',
  // Every option spelled out, so that each can be overridden with --set model.config.<option>=...
  // (a copy: a recipe's configuration is a plain record)
  model: { name: 'googlenet', config: { ...modelConfig('googlenet') } },
  data: {
    dataset: 'cifar100',
    trainPipeline: 'micronet-seed/train',
    testPipeline: 'micronet-seed/test',
    batchSize: 128,
    workers: 1,
  },
  epochs: 200,
  optimizer: seedSgd,
  restartOptimizerOnPrune: false,
  schedule: { lr: 0.1, warmupEpochs: 2, milestones: [60, 120, 160, 180, 200], gamma: 0.1, gammaAfterPrune: null },
  loss: { smoothing: 0.1, form: 'uniform' },
  pruning: { q: 0.25, events: seedEvents, gradientMasking: 'masked-weights' },
  seed: 0,
  precision: 'float32',
  channelsLast: false,
  cudaGraph: true,
  initialWeights: null,
  quantization: null,
};

/** What the entry's notebook actually ran (docs/SPEC.md §4.2). */
const id56Notebook: Recipe = {
  ...micronetSeed,
  name: 'id56-notebook',
  description:
    'the entry as its notebook ran: RandomResizedCrop, plain momentum, gamma 0.2 then a fresh optimizer and gamma 0.1 at each pruning event, targets 0.9 / 0.1/99, test stats at test time, zero-parameter gradient masking',
  data: { ...micronetSeed.data, trainPipeline: 'id56-notebook/train', testPipeline: 'id56-notebook/test' },
  optimizer: { ...seedSgd, nesterov: false },
  restartOptimizerOnPrune: true,
  schedule: { ...micronetSeed.schedule, gamma: 0.2, gammaAfterPrune: 0.1 },
  loss: { smoothing: 0.1, form: 'others' },
  pruning: { ...micronetSeed.pruning, gradientMasking: 'zero-params' },
};

/** The same phases in minutes: warm-up, dense training, alternating conv/linear pruning, fine-tuning. */
const smoke: Recipe = {
  ...micronetSeed,
  name: 'smoke',
  description:
    'a narrow GoogLeNet through the micronet-seed phases in minutes: warm-up, dense training, alternating pruning, fine-tuning',
  model: { name: 'googlenet', config: { ...modelConfig('googlenet', { width: 0.125 }) } },
  data: { ...micronetSeed.data, batchSize: 64 },
  epochs: 8,
  schedule: { lr: 0.1, warmupEpochs: 1, milestones: [7], gamma: 0.1, gammaAfterPrune: null },
  pruning: { q: 0.25, events: alternating([4, 5, 6]), gradientMasking: 'masked-weights' },
};

/** 8-bit weights and inputs everywhere, PyTorch's averaging constant for the input ranges. */
const eightBit = { weightBits: 8, actBits: 8, first: null, last: null, averagingConstant: 0.01 };

/** The seed run, then quantization-aware fine-tuning: the step after pruning in Deep Compression. */
const micronetSeedQat: Recipe = {
  ...micronetSeed,
  name: 'micronet-seed-qat',
  description:
    'micronet-seed, then 20 epochs of 8-bit quantization-aware training (BatchNorm folded, lr 1e-3, ranges frozen for the last 5)',
  epochs: 220,
  quantization: { ...eightBit, startEpoch: 201, lr: 1e-3, milestones: [211], gamma: 0.1, freezeEpoch: 216 },
};

/**
 * Quantization-aware fine-tuning of a trained model (what `micronet quantize` runs, with
 * initialWeights, the model and the bits taken from the command line). Every epoch is QAT.
 */
const qat: Recipe = {
  ...micronetSeed,
  name: 'qat',
  description:
    'quantization-aware fine-tuning of a trained, pruned model: BatchNorm folded, 8-bit weights and inputs, masks kept',
  epochs: 4,
  schedule: { lr: 1e-3, warmupEpochs: 0, milestones: [], gamma: 0.1, gammaAfterPrune: null },
  pruning: { q: 0.25, events: [], gradientMasking: 'masked-weights' },
  quantization: { ...eightBit, startEpoch: 1, lr: 1e-3, milestones: [3], gamma: 0.1, freezeEpoch: 4 },
};

const builtins = [micronetSeed, id56Notebook, smoke, micronetSeedQat, qat].map(validateRecipe);

/** Names of the built-in recipes. */
export function recipeNames(): string[] {
  return builtins.map((r) => r.name);
}

/** A copy of the built-in recipe of that name (free to change); throws RecipeError, listing the names, if there is none. */
export function findRecipe(name: string): Recipe {
  const r = builtins.find((b) => b.name === name);
  if (!r) throw new RecipeError(`unknown recipe '${name}' (known: ${recipeNames().join(', ')})`);
  return structuredClone(r);
}
