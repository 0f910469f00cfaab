// `micronet quantize`: quantization-aware fine-tuning of a trained (pruned) checkpoint, run by the
// trainer like any recipe (checkpoints, resume, Ctrl-C, metrics), ending with a quantized checkpoint.
import { resolve } from 'node:path';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { defaultDataDir } from '../data/index.js';
import { modelNames } from '../models/registry.js';
import { applyOverrides, findRecipe, validateRecipe, type Recipe } from '../recipes/index.js';
import type { LayerBits } from '../nn/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { checkpointDataset } from './eval.js';
import { checkedDevice, defaultOut, deviceOption, runOutput, runOutputOptions, useThreads } from './options.js';
import { resumeRun, runRecipe } from './run-recipe.js';
import { bitsLabel } from '../score/index.js';
import { postTrainingQuantize } from './post-training.js';

/** `8,8` -> { weight: 8, input: 8 }. */
function parseBits(value: string | undefined, option: string): LayerBits | null {
  if (value === undefined) return null;
  const m = /^(\d+),(\d+)$/.exec(value);
  if (!m) throw new UsageError(`--${option} takes WEIGHT,INPUT bits, e.g. 8,8; got '${value}'`);
  return { weight: Number(m[1]), input: Number(m[2]) };
}

/** The qat recipe fitted to a checkpoint: its model and data set, the bits and epochs asked for. */
function quantizeRecipe(o: {
  checkpoint: string;
  model: string;
  'weight-bits': number;
  'act-bits': number;
  'first-bits'?: string;
  'last-bits'?: string;
  epochs: number;
  lr?: number;
  set?: string[];
}): Recipe {
  const ckpt = loadAnyCheckpoint(o.checkpoint, o.model);
  ckpt.model.dispose();
  const dataset = checkpointDataset(ckpt, o.checkpoint);
  const base = findRecipe('qat');
  const n = o.epochs;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--epochs needs a positive integer, not ${n}`);
  const first = parseBits(o['first-bits'], 'first-bits');
  const last = parseBits(o['last-bits'], 'last-bits');
  const recipe: Recipe = validateRecipe({
    ...base,
    description:
      `quantization-aware fine-tuning of ${o.checkpoint}: BatchNorm folded, ${o['weight-bits']}-bit weights and ${o['act-bits']}-bit inputs` +
      `${first ? `, first layer ${bitsLabel(first)}` : ''}${last ? `, classifier ${bitsLabel(last)}` : ''}, masks kept`,
    model: { name: ckpt.name, config: ckpt.config },
    data: { ...base.data, dataset },
    initialWeights: resolve(o.checkpoint),
    epochs: n,
    quantization: {
      ...base.quantization!,
      weightBits: o['weight-bits'],
      actBits: o['act-bits'],
      first,
      last,
      lr: o.lr ?? base.quantization!.lr,
      // The rate drops tenfold after half the epochs; the ranges freeze for the last one.
      milestones: n > 1 ? [Math.floor(n / 2) + 1] : [],
      freezeEpoch: n > 1 ? n : null,
    },
  });
  return applyOverrides(recipe, o.set ?? []);
}

export const quantizeCommand = defineCommand({
  name: 'quantize',
  summary:
    'quantization-aware fine-tuning of a trained checkpoint (BatchNorm folded, masks kept), or with --epochs 0 post-training quantization, ending with an integer checkpoint',
  options: {
    checkpoint: { type: 'string', help: 'the trained (pruned) float checkpoint to start from' },
    'weight-bits': { type: 'number', help: 'bits of every weight (symmetric, per output channel)', default: 8 },
    'act-bits': { type: 'number', help: 'bits of every conv/linear input (per tensor)', default: 8 },
    'first-bits': { type: 'string', help: 'WEIGHT,INPUT bits of the first layer, if not the general ones' },
    'last-bits': { type: 'string', help: 'WEIGHT,INPUT bits of the classifier, if not the general ones' },
    epochs: {
      type: 'number',
      help: 'epochs of fine-tuning (lr drops 10x after half; ranges freeze in the last); 0: post-training quantization, no training',
      default: 4,
    },
    'calibration-batches': {
      type: 'number',
      help: 'post-training quantization (--epochs 0): training batches of 64 that calibrate the input ranges',
      default: 32,
    },
    lr: { type: 'number', help: "learning rate of the fine-tuning (default: the qat recipe's)" },
    model: {
      type: 'string',
      help: `the network of a .pth checkpoint (${modelNames().join(', ')})`,
      default: 'googlenet',
    },
    data: { type: 'string', help: "the CIFAR data directory (default: the user cache; on --resume, the run's own)" },
    out: { type: 'string', help: 'the run directory (default: runs/qat-<time>)' },
    device: deviceOption,
    set: { type: 'list', help: 'override a field of the resulting recipe: path=value' },
    resume: { type: 'string', help: 'continue the run in this directory' },
    ...runOutputOptions,
  },
  async run(o) {
    const device = checkedDevice(o.device);
    if (o.resume) {
      if (o.checkpoint || o.set?.length)
        throw new UsageError('--resume continues the saved run: --checkpoint and --set are not accepted with it');
      return resumeRun({ outDir: o.resume, ...(o.data ? { dataDir: o.data } : {}), device, ...runOutput(o) });
    }
    if (!o.checkpoint) throw new UsageError('`micronet quantize` needs --checkpoint (or --resume DIR)');
    if (o.epochs === 0) {
      useThreads(o.threads);
      return postTrainingQuantize({
        checkpoint: o.checkpoint,
        model: o.model,
        data: o.data ?? defaultDataDir(),
        out: o.out ?? defaultOut('ptq'),
        weightBits: o['weight-bits'],
        actBits: o['act-bits'],
        first: parseBits(o['first-bits'], 'first-bits'),
        last: parseBits(o['last-bits'], 'last-bits'),
        batches: o['calibration-batches'],
        json: o.json === true,
      });
    }
    if (o['calibration-batches'] !== 32)
      throw new UsageError('--calibration-batches is for post-training quantization (--epochs 0)');
    const recipe = quantizeRecipe({ ...o, checkpoint: o.checkpoint });
    return runRecipe(recipe, {
      dataDir: o.data ?? defaultDataDir(),
      outDir: o.out ?? defaultOut('qat'),
      device,
      resume: false,
      ...runOutput(o),
    });
  },
});
