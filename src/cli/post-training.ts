// `micronet quantize --epochs 0`: post-training quantization. The checkpoint's model is prepared
// with the bits asked for, its input ranges calibrated on training batches (no training), and
// written as an integer checkpoint; its test top-1 is printed beside the float model's.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { saveQuantizedCheckpoint } from '../checkpoint/quantized-file.js';
import { Loader } from '../data/loader.js';
import { loadSplit } from '../data/source.js';
import type { LayerBits } from '../nn/index.js';
import { calibrate } from '../quant/calibrate.js';
import { setIntegerSimulation } from '../quant/prepare.js';
import { evaluate } from '../train/evaluate.js';
import { checkpointDataset } from './eval.js';

export interface PostTrainingOptions {
  checkpoint: string;
  model: string;
  data: string;
  out: string;
  weightBits: number;
  actBits: number;
  first: LayerBits | null;
  last: LayerBits | null;
  batches: number;
  /** One JSON object instead of the lines. */
  json?: boolean;
}

export async function postTrainingQuantize(o: PostTrainingOptions): Promise<void> {
  const { model, name, config, ...ckpt } = loadAnyCheckpoint(o.checkpoint, o.model);
  try {
    const dataset = checkpointDataset({ ...ckpt, config }, o.checkpoint);
    // The test transform for both: calibration sees the images as evaluation will.
    const loader = (split: 'train' | 'test') =>
      new Loader({
        data: loadSplit(o.data, split, { dataset }),
        pipeline: 'micronet-seed/test',
        batchSize: 64,
        workers: 0,
        shuffle: false,
      });
    const top1 = async () => {
      const l = loader('test');
      try {
        return (await evaluate(model, l.epoch(0))).top1;
      } finally {
        await l.close();
      }
    };
    const before = await top1();
    const calibration = loader('train');
    let images: number;
    try {
      images = await calibrate(
        model,
        { weightBits: o.weightBits, actBits: o.actBits, first: o.first, last: o.last, averagingConstant: 0.01 },
        calibration.epoch(0),
        o.batches,
      );
    } finally {
      await calibration.close();
    }
    setIntegerSimulation(model, true);
    const after = await top1();
    mkdirSync(o.out, { recursive: true });
    const path = join(o.out, 'quantized.safetensors');
    saveQuantizedCheckpoint(path, model, name, config, dataset);
    if (o.json) {
      const bits = { weight: o.weightBits, input: o.actBits, first: o.first, last: o.last };
      console.log(
        JSON.stringify({
          checkpoint: o.checkpoint,
          bits,
          images,
          top1Float: before,
          top1: after,
          files: { quantized: path },
        }),
      );
      return;
    }
    const pct = (f: number) => `${(100 * f).toFixed(2)}%`;
    console.log(
      `post-training quantization, W${o.weightBits}/A${o.actBits}, calibrated on ${images.toLocaleString('en-US')} training images: ` +
        `test top-1 ${pct(before)} (float) -> ${pct(after)} (integer simulation), ${((after - before) * 100).toFixed(2)} points\n` +
        `integer checkpoint: ${path}`,
    );
  } finally {
    model.dispose();
  }
}
