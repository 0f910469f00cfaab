// `micronet eval`: top-1, top-5 and mean loss of a checkpoint on a split of the data set it was trained for
// (a quantized model with its exact integer arithmetic unless told otherwise).
import { checkedDevice, checkedWorkers, deviceOption, threadsOption, useThreads } from './options.js';
import { existsSync } from 'node:fs';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { loadSplit } from '../data/source.js';
import { datasetNames, datasets, type DatasetName, type Split } from '../data/cifar.js';
import { Loader } from '../data/loader.js';
import type { PipelineName } from '../data/pipelines.js';
import { modelNames } from '../models/registry.js';
import { planOf, setIntegerSimulation } from '../quant/prepare.js';
import { evaluate, prepareFastEval, type EvalResult } from '../train/evaluate.js';
import { OnnxSession, evaluateOnnx } from '../deploy/runtime.js';
import * as T from '../torch/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

/** The data set a checkpoint was trained for: the one it names, else the one its number of classes gives. */
export function checkpointDataset(
  checkpoint: { dataset?: DatasetName; config: Record<string, unknown> },
  path: string,
  hint = '',
): DatasetName {
  const classes = checkpoint.config.numClasses;
  const found =
    checkpoint.dataset ?? (Object.keys(datasets) as DatasetName[]).find((d) => datasets[d].classes.fine === classes);
  if (!found) throw new UsageError(`${path} names no data set and its ${String(classes)} classes match none${hint}`);
  return found;
}

/** Each recipe's test transform: the seed entry normalises with train statistics, the id56 notebook with test ones. */
const testPipelines: Record<'train' | 'test', PipelineName> = {
  train: 'micronet-seed/test',
  test: 'id56-notebook/test',
};

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'top-1, top-5 and mean loss of a checkpoint on CIFAR-100 or CIFAR-10 (test or train split)',
  options: {
    checkpoint: {
      type: 'string',
      help: 'a micronet checkpoint (.safetensors), a PyTorch one (.pth), or an exported .onnx (run in onnxruntime)',
      required: true,
    },
    data: {
      type: 'string',
      help: 'the data directory (either official version, extracted or as the .tar.gz)',
      required: true,
    },
    dataset: {
      type: 'string',
      choices: datasetNames,
      help: 'the data set (default: the one the checkpoint names, else by its number of classes)',
    },
    split: { type: 'string', choices: ['test', 'train'], help: 'which split to evaluate', default: 'test' },
    norm: {
      type: 'string',
      choices: ['train', 'test'],
      help: 'normalise with the train (micronet-seed) or test (id56-notebook) statistics',
      default: 'train',
    },
    batch: { type: 'number', help: 'images per batch', default: 128 },
    workers: { type: 'number', help: 'loader threads (0: the main thread)', default: 0 },
    model: {
      type: 'string',
      help: `the model of a .pth checkpoint (${modelNames().join(', ')})`,
      default: 'googlenet',
    },
    simulate: {
      type: 'string',
      choices: ['integer', 'fake'],
      help: 'quantized models: exact integer arithmetic (default) or the fake-quantized float model, for comparison',
    },
    json: { type: 'boolean', help: 'print one JSON object', default: false },
    device: deviceOption,
    threads: threadsOption,
    fast: {
      type: 'boolean',
      help: 'float models: BatchNorm folded into the convolutions, channels_last, on the CPU each conv and its ReLU one prepacked oneDNN call (faster; logits within float32 rounding)',
      default: false,
    },
  },
  async run(o) {
    if (!Number.isInteger(o.batch) || o.batch < 1)
      throw new UsageError(`--batch needs a positive integer, not ${o.batch}`);
    checkedWorkers(o.workers);
    useThreads(o.threads);
    const device = checkedDevice(o.device);
    if (!existsSync(o.checkpoint)) throw new Error(`checkpoint ${o.checkpoint} does not exist`);
    if (o.checkpoint.endsWith('.onnx')) {
      if (device !== 'cpu' && o.device !== 'auto')
        throw new UsageError('an .onnx file runs in onnxruntime on the CPU: --device cpu (or leave it out)');
      return evalOnnx(o);
    }
    if (o.fast && device !== 'cpu')
      throw new UsageError(`--fast prepacks oneDNN convolutions for the CPU: not with --device ${device}`);
    const split = o.split as 'test' | 'train';
    const norm = o.norm as 'train' | 'test';
    const checkpoint = loadAnyCheckpoint(o.checkpoint, o.model);
    const { model, config } = checkpoint;
    let data: Split;
    let dataset: DatasetName;
    let simulate: 'integer' | 'fake' | undefined;
    try {
      if (planOf(model)) {
        simulate = (o.simulate as 'integer' | 'fake' | undefined) ?? 'integer';
        setIntegerSimulation(model, simulate === 'integer');
      } else if (o.simulate !== undefined) {
        throw new UsageError(`--simulate is for quantized models; ${o.checkpoint} holds a float model`);
      }
      if (o.fast) {
        if (simulate)
          throw new UsageError(
            `--fast is for float models; ${o.checkpoint} is quantized (its BatchNorm is folded already)`,
          );
        prepareFastEval(model);
      }
      dataset =
        (o.dataset as DatasetName | undefined) ?? checkpointDataset(checkpoint, o.checkpoint, ': pass --dataset');
      const classes = datasets[dataset].classes.fine;
      if (config.numClasses !== classes)
        throw new Error(
          `${o.checkpoint} classifies ${String(config.numClasses)} classes, ${datasets[dataset].title} has ${classes}`,
        );
      data = loadSplit(o.data, split, { dataset });
    } catch (e) {
      model.dispose();
      throw e;
    }
    const loader = new Loader({
      data,
      pipeline: testPipelines[norm],
      batchSize: o.batch,
      workers: o.workers,
      shuffle: false,
      layout: o.fast ? 'channels_last' : 'nchw',
    });
    try {
      if (device !== 'cpu') model.to({ device });
      const r = await evaluate(model, loader.epoch(0), { device });
      printEvaluation(r, { checkpoint: o.checkpoint, data: o.data, dataset, split, norm, simulate }, o.json);
    } finally {
      await loader.close();
      model.dispose();
    }
  },
});

/** An exported ONNX file in onnxruntime, on the same data and pipeline as a checkpoint. */
async function evalOnnx(o: {
  checkpoint: string;
  data: string;
  dataset?: string;
  split: string;
  norm: string;
  batch: number;
  workers: number;
  json: boolean;
  simulate?: string;
  fast: boolean;
}): Promise<void> {
  if (o.simulate !== undefined || o.fast)
    throw new UsageError('--simulate and --fast are for micronet checkpoints; an ONNX file runs as exported');
  const dataset = (o.dataset as DatasetName | undefined) ?? 'cifar100';
  const split = o.split as 'test' | 'train';
  const norm = o.norm as 'train' | 'test';
  const session = await OnnxSession.open(o.checkpoint, { threads: T.getNumThreads() });
  const loader = new Loader({
    data: loadSplit(o.data, split, { dataset }),
    pipeline: testPipelines[norm],
    batchSize: o.batch,
    workers: o.workers,
    shuffle: false,
  });
  try {
    const r = await evaluateOnnx(session, loader.epoch(0));
    printEvaluation(r, { checkpoint: o.checkpoint, data: o.data, dataset, split, norm, simulate: undefined }, o.json);
  } finally {
    await loader.close();
    await session.dispose();
  }
}

/** What an evaluation was of, for its printout. */
interface EvalContext {
  checkpoint: string;
  data: string;
  dataset: DatasetName;
  split: 'test' | 'train';
  norm: 'train' | 'test';
  simulate: 'integer' | 'fake' | undefined;
}

/** The figures as one JSON object, or as aligned lines. */
function printEvaluation(r: EvalResult, c: EvalContext, json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify({
        checkpoint: c.checkpoint,
        dataset: c.dataset,
        split: c.split,
        norm: c.norm,
        ...(c.simulate ? { simulate: c.simulate } : {}),
        count: r.count,
        correct1: r.correct1,
        correct5: r.correct5,
        top1: r.top1,
        top5: r.top5,
        loss: r.loss,
      }),
    );
  } else {
    const pct = (f: number) => `${(100 * f).toFixed(2)}%`;
    console.log(
      [
        `checkpoint  ${c.checkpoint}`,
        `data        ${c.data} (${datasets[c.dataset].title}, ${c.split} split, normalised with ${c.norm} statistics)`,
        `top-1       ${pct(r.top1)}  (${r.correct1} / ${r.count})`,
        `top-5       ${pct(r.top5)}  (${r.correct5} / ${r.count})`,
        `loss        ${r.loss.toFixed(4)}  (mean cross-entropy)`,
        `images      ${r.count}`,
        ...(c.simulate
          ? [
              `arithmetic  ${c.simulate === 'integer' ? 'integer simulation (exact integers)' : 'fake-quantized floats'}`,
            ]
          : []),
      ].join('\n'),
    );
  }
}
