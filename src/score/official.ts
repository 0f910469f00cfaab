// The MicroNet Challenge's counting rules, per layer in execution order.
//  - storage: non-zero values at the layer's bit width, plus a 1-bit mask for every element of a
//    tensor that has a zero; conv bias and the following BatchNorm's shift are one bias vector,
//    the BatchNorm scale folds into the conv weights for free.
//  - operations: multiplies weighted by precision (bits/32: 0.5 under the 16-bit freebie),
//    additions always 1 (32-bit accumulation). ReLU is one multiply per element; the global
//    average pool C multiplies and (HW-1)C additions; concatenation and dropout are free.
//  - max pooling is not defined by the organisers: (k*k-1) comparisons per output element, each
//    counted as one addition.
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout2d, MaxPool2d, ReLU, type Module } from '../nn/index.js';
import { totals, type LayerScore, type ScoreReport } from './report.js';
import type { Trace } from './trace.js';
import { product, typeName, weightFacts } from './layers.js';

export interface PrecisionOptions {
  /** Count every unquantised parameter and multiply at 16 bits (the freebie) instead of 32. */
  freebie: boolean;
  /** Bit widths of quantised layers by name (storage and multiplies); others use the default. */
  layerBits?: Record<string, number>;
  /** Score the architecture: every weight counts as non-zero, whatever values it happens to hold. */
  dense?: boolean;
}

export function widthOf(options: PrecisionOptions, trace: Trace): (name: string) => number {
  const layerBits = options.layerBits ?? {};
  const names = new Set(trace.leaves.map(([n]) => n));
  for (const [name, bits] of Object.entries(layerBits)) {
    if (!names.has(name)) throw new Error(`bit width given for unknown layer '${name}'`);
    if (!(Number.isInteger(bits) && bits >= 1 && bits <= 32)) throw new Error(`layer '${name}': bit width must be an integer in 1..32, got ${bits}`);
    if (options.freebie && bits < 16) throw new Error(`the 16-bit freebie applies to unquantised models only: layer '${name}' is at ${bits} bits`);
  }
  const fallback = options.freebie ? 16 : 32;
  return (name) => layerBits[name] ?? fallback;
}

export function scoreOfficial(trace: Trace, options: PrecisionOptions): ScoreReport {
  const width = widthOf(options, trace);
  const layers: LayerScore[] = [];
  let weightedOps = 0;
  const calls = trace.calls;
  calls.forEach((call, i) => {
    const m: Module = call.module;
    const b = width(call.name);
    const row: LayerScore = { name: call.name, type: typeName(m), shape: call.output, weights: 0, nonzero: 0, bits: 0, mults: 0, adds: 0 };
    const facts = weightFacts(m, options.dense);
    if (facts) {
      const [c, h = 1, w = 1] = call.output as [number, number?, number?];
      const folded = calls[i + 1]?.module instanceof BatchNorm2d;
      const hasBias = facts.hasBias || folded;
      const sparse = facts.nonzero < facts.numel;
      const outputs = c * h * w;
      row.weights = facts.numel;
      row.nonzero = facts.nonzero;
      row.bits = (sparse ? b * facts.nonzero + facts.numel : b * facts.numel) + (hasBias ? b * c : 0);
      row.mults = facts.nonzero * h * w;
      row.adds = (facts.nonzero / facts.outChannels - 1) * outputs + (hasBias ? outputs : 0);
      if (sparse) row.note = 'sparse: 1-bit mask per element';
    } else if (m instanceof BatchNorm2d) {
      const previous = calls[i - 1];
      if (!(previous?.module instanceof Conv2d)) throw new Error(`BatchNorm '${call.name}' does not follow a convolution: the official rules fold it into one`);
      row.note = `folded into ${previous.name}`;
    } else if (m instanceof ReLU) {
      row.mults = product(call.output);
    } else if (m instanceof MaxPool2d) {
      row.adds = (m.kernelSize * m.kernelSize - 1) * product(call.output);
      row.note = 'max pool: (k*k-1) comparisons per output, as additions';
    } else if (m instanceof AdaptiveAvgPool2d) {
      const [c, h, w] = call.input as [number, number, number];
      if (product(call.output.slice(1)) !== 1) throw new Error(`'${call.name}': only global average pooling is defined by the rules`);
      row.mults = c;
      row.adds = (h * w - 1) * c;
    } else if (!(m instanceof Dropout2d)) {
      throw new Error(`cannot score layer '${call.name}' (${m.describe()}): no counting rule for it`);
    }
    weightedOps += row.mults * (b / 32) + row.adds;
    layers.push(row);
  });
  const notes = ['max pooling counted as (k*k-1) comparisons per output element, each as one addition (not defined by the organisers)',
    'BatchNorm folded into the preceding convolution (scale into the weights, shift into the bias)'];
  return totals('official', options.freebie ? 16 : 32, layers, weightedOps, notes);
}

