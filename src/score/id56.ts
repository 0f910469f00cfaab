// The entry's own scorer (ID56: its submission id in the challenge), reproduced with its quirks so that its published figures come out:
// modules walked once each in registration order with a running (channels, resolution) that
// starts at (3, 32); BatchNorm stored and counted per channel; pools counted on the running
// shape (the inception pool sees the previous branch's channels, the shared top-level max pool
// is counted once); multiplies and additions summed without weighting, whatever their width (the
// entry's "mult-adds"): widths change storage only. An Identity (a folded BatchNorm) is nothing.
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout2d,
  Identity,
  MaxPool2d,
  ReLU,
  WeightLayer,
} from '../nn/index.js';
import { blankRow, totals, type LayerScore, type ScoreReport } from './report.js';
import type { Trace } from '../nn/trace.js';
import { freeOps, typeName, weightFacts } from './layers.js';
import { floatWidth, uniformWidth, weightPrecision, type PrecisionOptions } from './precision.js';

/** Counts a model the way the entry's own scorer did (docs/SPEC.md §6.4). */
export function scoreId56(trace: Trace, options: PrecisionOptions): ScoreReport {
  const outside = trace.steps.find((s) => 'op' in s && !freeOps.has(s.op.op));
  if (outside && 'op' in outside)
    throw new Error(
      `the id56 rules (the entry's own scorer) count the layers of its GoogLeNet only: they have no rule for ${outside.op.op} outside a layer; score with the official rules`,
    );
  const b = floatWidth(options.bits);
  const firstCall = new Map(trace.calls.map((c) => [c.module, c] as const).reverse());
  let channels = 3;
  let res = 32;
  const layers: LayerScore[] = [];
  for (const [name, m] of trace.leaves) {
    const row = blankRow(name, typeName(m), []);
    if (m instanceof WeightLayer) {
      const facts = weightFacts(m, options.dense);
      const p = weightPrecision(m, options.bits);
      const sparse = facts.nonzero < facts.numel;
      row.weights = facts.numel;
      row.nonzero = facts.nonzero;
      row.precision = p;
      row.bits = p.weight * facts.nonzero + (sparse ? facts.numel : 0) + p.bias * facts.outChannels;
      if (m instanceof Conv2d) {
        const call = firstCall.get(m);
        if (!call) throw new Error(`'${name}' was not used in the forward pass`);
        const r = call.input[1]!; // the conv's true input size
        row.mults = facts.nonzero * r * r;
        row.adds = (facts.nonzero / facts.outChannels - 1) * r * r * facts.outChannels + r * r * facts.outChannels;
        [channels, res] = [facts.outChannels, r];
      } else {
        row.mults = facts.nonzero;
        row.adds = facts.nonzero;
        [channels, res] = [facts.outChannels, 1];
      }
    } else if (m instanceof BatchNorm2d) {
      row.precision = { weight: b, bias: b };
      row.bits = 2 * b * m.numFeatures;
      row.adds = m.numFeatures;
    } else if (m instanceof ReLU) {
      row.precision = { mult: b };
      row.mults = channels * res * res;
    } else if (m instanceof MaxPool2d || m instanceof AdaptiveAvgPool2d) {
      row.precision = { mult: b };
      row.mults = channels;
      row.adds = (res * res - 1) * channels;
      res = m instanceof MaxPool2d ? Math.ceil((res - m.kernelSize + 1 + 2 * m.padding) / m.stride) : 1;
    } else if (!(m instanceof Dropout2d || m instanceof Identity)) {
      throw new Error(`cannot score layer '${name}' (${m.describe()}) under the id56 rules`);
    }
    row.shape = [channels, res, res];
    layers.push(row);
  }
  return totals('id56', uniformWidth(options.bits, layers), layers, multAdds, [
    "the entry's own counting, quirks included: see docs/SPEC.md §6.4",
  ]);
}

/** A row's operations as the entry counted them: multiplies plus additions, unweighted ("mult-adds"). */
export function multAdds(l: LayerScore): number {
  return l.mults + l.adds;
}
