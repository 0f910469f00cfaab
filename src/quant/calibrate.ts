// Post-training quantization: a float model prepared with a plan, its input ranges observed on
// a few batches of eval forwards (no training), then frozen: what users try before they pay for
// quantization-aware training.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { planFor, prepareQuantized, setCalibrating, setObserving, type QuantizationConfig } from './prepare.js';

/**
 * Quantizes `model` in place after training: BatchNorm folded, the plan's bits set, the input
 * ranges calibrated on up to `batches` batches (eval forwards, the plan's moving-average
 * observer), then frozen. Returns the number of images seen; each batch is disposed.
 */
export async function calibrate(
  model: Module,
  config: QuantizationConfig,
  data: AsyncIterable<{ x: T.Tensor; y: T.Tensor }>,
  batches: number,
): Promise<number> {
  if (!Number.isInteger(batches) || batches < 1)
    throw new Error(`calibration needs a positive number of batches, not ${batches}`);
  prepareQuantized(model, planFor(model, config));
  setCalibrating(model, true);
  let [seen, images] = [0, 0];
  try {
    for await (const batch of data) {
      try {
        T.noGrad(() => T.tidy(() => model.forward(batch.x, false)));
        images += batch.x.size(0);
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
      if (++seen === batches) break;
    }
  } finally {
    setCalibrating(model, false);
  }
  if (!images) throw new Error('calibration saw no images');
  setObserving(model, false);
  return images;
}
