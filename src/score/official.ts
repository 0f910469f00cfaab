// The MicroNet Challenge's counting rules (its counting.py), per layer in execution order.
//  - storage: non-zero values at the layer's width, plus a 1-bit mask for every element of a
//    tensor that has a zero; conv bias and the following BatchNorm's shift are one bias vector,
//    the BatchNorm scale folds into the conv weights for free (an Identity is a BatchNorm folded
//    already: its conv holds the bias).
//  - operations: multiplies weighted by their width (bits/32: 0.5 under the 16-bit freebie),
//    additions always 1 (32-bit accumulation). ReLU is one multiply per element; the global
//    average pool C multiplies and (HW-1)C additions; concatenation and dropout are free.
//  - max pooling is not defined by the organisers: (k*k-1) comparisons per output element, each
//    counted as one addition.
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout2d,
  Identity,
  MaxPool2d,
  ReLU,
  WeightLayer,
  type Module,
} from '../nn/index.js';
import { totals, type LayerScore, type ScoreReport } from './report.js';
import type { Trace } from './trace.js';
import { product, typeName, weightFacts } from './layers.js';
import { floatWidth, uniformWidth, weightPrecision, type PrecisionOptions } from './precision.js';

/** Counts a traced forward pass under the challenge's rules. */
export function scoreOfficial(trace: Trace, options: PrecisionOptions): ScoreReport {
  const layers: LayerScore[] = [];
  const calls = trace.calls;
  calls.forEach((call, i) => {
    const m: Module = call.module;
    const row: LayerScore = {
      name: call.name,
      type: typeName(m),
      shape: call.output,
      weights: 0,
      nonzero: 0,
      bits: 0,
      mults: 0,
      adds: 0,
    };
    if (m instanceof WeightLayer) {
      const facts = weightFacts(m, options.dense);
      const p = weightPrecision(m, options.bits);
      const [c, h = 1, w = 1] = call.output as [number, number?, number?];
      const folded = calls[i + 1]?.module instanceof BatchNorm2d;
      const hasBias = facts.hasBias || folded;
      const sparse = facts.nonzero < facts.numel;
      const outputs = c * h * w;
      row.weights = facts.numel;
      row.nonzero = facts.nonzero;
      row.precision = p;
      row.bits =
        (sparse ? p.weight * facts.nonzero + facts.numel : p.weight * facts.numel) + (hasBias ? p.bias * c : 0);
      row.mults = facts.nonzero * h * w;
      row.adds = (facts.nonzero / facts.outChannels - 1) * outputs + (hasBias ? outputs : 0);
      if (sparse) row.note = 'sparse: 1-bit mask per element';
    } else if (m instanceof BatchNorm2d) {
      const previous = calls[i - 1];
      if (!(previous?.module instanceof Conv2d))
        throw new Error(`BatchNorm '${call.name}' does not follow a convolution: the official rules fold it into one`);
      row.note = `folded into ${previous.name}`;
    } else if (m instanceof Identity) {
      row.note = 'identity (a folded BatchNorm): nothing stored or computed';
    } else if (m instanceof ReLU) {
      row.precision = { mult: floatWidth(options.bits) };
      row.mults = product(call.output);
    } else if (m instanceof MaxPool2d) {
      row.adds = (m.kernelSize * m.kernelSize - 1) * product(call.output);
      row.note = 'max pool: (k*k-1) comparisons per output, as additions';
    } else if (m instanceof AdaptiveAvgPool2d) {
      const [c, h, w] = call.input as [number, number, number];
      if (product(call.output.slice(1)) !== 1)
        throw new Error(`'${call.name}': only global average pooling is defined by the rules`);
      row.precision = { mult: floatWidth(options.bits) };
      row.mults = c;
      row.adds = (h * w - 1) * c;
    } else if (!(m instanceof Dropout2d)) {
      throw new Error(`cannot score layer '${call.name}' (${m.describe()}): no counting rule for it`);
    }
    layers.push(row);
  });
  const notes = [
    'max pooling counted as (k*k-1) comparisons per output element, each as one addition (not defined by the organisers)',
    'BatchNorm folded into the preceding convolution (scale into the weights, shift into the bias)',
  ];
  return totals('official', uniformWidth(options.bits, layers), layers, officialOps, notes);
}

/** A row's operations: multiplies weighted by their width (bits/32), additions at 32 bits. */
export function officialOps(l: LayerScore): number {
  return l.mults * ((l.precision?.mult ?? 32) / 32) + l.adds;
}
