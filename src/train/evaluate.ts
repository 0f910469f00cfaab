// Accuracy and loss of a model over a stream of batches, in eval mode and without autograd.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { fuseConvolutions, fusedConvAvailable } from '../nn/fused.js';
import { foldBatchNorm } from '../quant/prepare.js';

/**
 * The eval fast path, in place: every BatchNorm folded into the convolution before it (the
 * folding the official score assumes; the logits move by float32 rounding only) and weights in
 * channels_last. On the CPU each convolution and its ReLU then become one oneDNN call with the
 * weight prepacked in `dtype` (bfloat16: what autocast would compute in). The model is for
 * evaluation from then on. Feed it channels_last batches.
 */
export function prepareFastEval(model: Module, options: { dtype?: 'float32' | 'bfloat16' } = {}): void {
  foldBatchNorm(model);
  model.to({ memoryFormat: 'channels_last' });
  if (model.parameters()[0]?.device === 'cpu' && fusedConvAvailable())
    fuseConvolutions(model, options.dtype ?? 'float32');
}

/**
 * Images seen, top-1 and top-5 hits. top1/top5 are fractions in [0,1]; loss is the mean plain
 * cross-entropy (no label smoothing) over all images.
 */
export interface EvalResult {
  count: number;
  correct1: number;
  correct5: number;
  top1: number;
  top5: number;
  loss: number;
}

/** One batch's images, top-1 and top-5 hits and summed cross-entropy, from its logits. */
export function batchFigures(
  out: T.Tensor,
  y: T.Tensor,
): { count: number; correct1: number; correct5: number; lossSum: number } {
  return T.noGrad(() =>
    T.tidy(() => {
      // Loss and ranking in float64: a bfloat16 or float32 sum would lose digits over 10,000 images.
      const logits = out.to('float64');
      const n = logits.size(0);
      if (n !== y.size(0)) throw new Error(`evaluate: the model gave ${n} rows of logits for ${y.size(0)} labels`);
      const k = Math.min(5, logits.size(1));
      const hits = logits.topk(k, 1).indices.eq(y.unsqueeze(1)); // [n, k], at most one true per row
      return {
        count: n,
        correct1: hits.narrow(1, 0, 1).sum().item(),
        correct5: hits.sum().item(),
        lossSum: T.F.crossEntropy(logits, y, { reduction: 'sum' }).item(),
      };
    }),
  );
}

/**
 * Evaluates model on every batch (x: inputs, y: int64 class indices), disposing each batch's x
 * and y. With `device`, batches are moved there (the model must already be on it); `autocast`
 * runs the forward pass under bfloat16 autocast (the recipes' reduced precision, on any device).
 */
export async function evaluate(
  model: Module,
  batches: AsyncIterable<{ x: T.Tensor; y: T.Tensor; size: number }>,
  options: { device?: T.Device; autocast?: boolean } = {},
): Promise<EvalResult> {
  const device = options.device;
  const deviceType = device?.startsWith('cuda') ? 'cuda' : 'cpu';
  const tally = new EvalTally();
  for await (const batch of batches) {
    try {
      const r = T.noGrad(() =>
        T.tidy(() => {
          const x = device ? batch.x.to(device) : batch.x;
          const y = device ? batch.y.to(device) : batch.y;
          const forward = () => model.forward(x, false);
          return batchFigures(options.autocast ? T.autocast({ deviceType, dtype: 'bfloat16' }, forward) : forward(), y);
        }),
      );
      tally.add(r);
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return tally.result();
}

/** Batch figures summed into an evaluation's result. */
export class EvalTally {
  #sums = { count: 0, correct1: 0, correct5: 0, lossSum: 0 };

  add(r: ReturnType<typeof batchFigures>): void {
    for (const k of ['count', 'correct1', 'correct5', 'lossSum'] as const) this.#sums[k] += r[k];
  }

  result(): EvalResult {
    const { count, correct1, correct5, lossSum } = this.#sums;
    if (count === 0) throw new Error('evaluate: no images (the batches were empty)');
    return { count, correct1, correct5, top1: correct1 / count, top5: correct5 / count, loss: lossSum / count };
  }
}
