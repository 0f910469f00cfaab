// The MicroNet Challenge's counting rules (its counting.py), per layer in execution order.
//  - storage: non-zero values at the layer's width, plus a 1-bit mask for every element of a
//    tensor that has a zero; conv bias and the following BatchNorm's shift are one bias vector,
//    the BatchNorm scale folds into the conv weights for free (an Identity is a BatchNorm folded
//    already: its conv holds the bias). A BatchNorm that reads anything but a convolution's
//    output of its own (pre-activation) stores its scale and shift and costs a multiply and an
//    addition per element.
//  - operations: multiplies weighted by their width (bits/32: 0.5 under the 16-bit freebie),
//    additions always 1 (32-bit accumulation). ReLU is one multiply per element; average pooling
//    one multiply and k*k-1 additions per output, the global one C multiplies and (HW-1)C
//    additions; a residual addition one addition per element; concatenation, padding, cropping,
//    reshaping and dropout are free. An operator outside the layers with no rule is refused.
//  - max pooling is not defined by the organisers: (k*k-1) comparisons per output element, each
//    counted as one addition.
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  ConstantPad2d,
  Dropout2d,
  Identity,
  MaxPool2d,
  ReLU,
  Sequential,
  WeightLayer,
  type Module,
} from '../nn/index.js';
import { blankRow, totals, type LayerScore, type ScoreReport } from './report.js';
import { foldablePairs, type OpCall, type Trace } from '../nn/trace.js';
import { additionOps, freeOps, multiplicationOps, product, typeName, weightFacts } from './layers.js';
import { floatWidth, uniformWidth, weightPrecision, type PrecisionOptions } from './precision.js';

/** Counts a traced forward pass under the challenge's rules. */
export function scoreOfficial(trace: Trace, options: PrecisionOptions): ScoreReport {
  const folds = foldedBatchNorms(trace);
  const layers: LayerScore[] = [];
  let last = 'the input';
  for (const step of trace.steps) {
    if ('op' in step) {
      // Operators that only move data (concatenation, reshaping, padding) cost nothing and get no row.
      if (!freeOps.has(step.op.op)) layers.push(operatorRow(step.op, last, options));
      continue;
    }
    const call = step.layer;
    last = call.name;
    layers.push(layerRow(call, folds, options));
  }
  const notes = [
    'max pooling counted as (k*k-1) comparisons per output element, each as one addition (not defined by the organisers)',
    'BatchNorm folded into the convolution whose output it alone reads (scale into the weights, shift into the bias); any other BatchNorm counted as its own layer',
  ];
  return totals('official', uniformWidth(options.bits, layers), layers, officialOps, notes);
}

type LayerCall = Trace['calls'][number];

/** Folded BatchNorm calls with their convolutions, and each such convolution with its BatchNorm. */
function foldedBatchNorms(trace: Trace): Map<LayerCall, LayerCall> {
  const folds = new Map<LayerCall, LayerCall>();
  for (const [bn, conv] of foldablePairs(trace)) folds.set(bn, conv).set(conv, bn);
  return folds;
}

/** A leaf call's row. */
function layerRow(call: LayerCall, folds: Map<LayerCall, LayerCall>, options: PrecisionOptions): LayerScore {
  const m: Module = call.module;
  const row = blankRow(call.name, typeName(m), call.output);
  const elements = product(call.output);
  const b = floatWidth(options.bits);
  if (m instanceof WeightLayer) {
    const facts = weightFacts(m, options.dense);
    const p = weightPrecision(m, options.bits);
    const [c, h = 1, w = 1] = call.output as [number, number?, number?];
    const hasBias = facts.hasBias || folds.has(call);
    const sparse = facts.nonzero < facts.numel;
    row.weights = facts.numel;
    row.nonzero = facts.nonzero;
    row.precision = p;
    row.bits = (sparse ? p.weight * facts.nonzero + facts.numel : p.weight * facts.numel) + (hasBias ? p.bias * c : 0);
    row.mults = facts.nonzero * h * w;
    // Each output sums its window's products (grouped convolutions included: the weight holds one group's inputs).
    row.adds = (facts.nonzero / facts.outChannels - 1) * elements + (hasBias ? elements : 0);
    if (sparse) row.note = 'sparse: 1-bit mask per element';
  } else if (m instanceof BatchNorm2d) {
    const conv = folds.get(call);
    if (conv) row.note = `folded into ${conv.name}`;
    else {
      // Not after a convolution it can fold into (a pre-activation BatchNorm): a scale and a shift per channel.
      row.precision = { weight: b, bias: b, mult: b };
      row.weights = 2 * m.numFeatures;
      row.nonzero = row.weights;
      row.bits = 2 * b * m.numFeatures;
      row.mults = elements;
      row.adds = elements;
      row.note = 'not folded (no convolution of its own before it): one multiply and one addition per element';
    }
  } else if (m instanceof Identity) {
    row.note = 'identity (a folded BatchNorm): nothing stored or computed';
  } else if (m instanceof Sequential && !m.layers.length) {
    row.note = 'identity (an empty Sequential): nothing stored or computed';
  } else if (m instanceof ReLU) {
    row.precision = { mult: b };
    row.mults = elements;
  } else if (m instanceof MaxPool2d) {
    row.adds = (m.kernelSize * m.kernelSize - 1) * elements;
    row.note = 'max pool: (k*k-1) comparisons per output, as additions';
  } else if (m instanceof AvgPool2d) {
    row.precision = { mult: b };
    row.mults = elements;
    row.adds = (m.kernelSize * m.kernelSize - 1) * elements;
  } else if (m instanceof AdaptiveAvgPool2d) {
    const [c, h, w] = call.input as [number, number, number];
    if (product(call.output.slice(1)) !== 1)
      throw new Error(`'${call.name}': only global average pooling is defined by the rules`);
    row.precision = { mult: b };
    row.mults = c;
    row.adds = (h * w - 1) * c;
  } else if (!(m instanceof Dropout2d || m instanceof ConstantPad2d)) {
    throw new Error(`cannot score layer '${call.name}' (${m.describe()}): no counting rule for it`);
  }
  return row;
}

/** An operator's row: an elementwise addition costs one addition per element, a multiply one multiply; nothing else is known. */
function operatorRow(call: OpCall, after: string, options: PrecisionOptions): LayerScore {
  const row = blankRow(`${call.op} after ${after}`, call.op, call.output);
  if (additionOps.has(call.op)) {
    row.adds = product(call.output);
    row.note = 'elementwise addition (a residual or branch sum): one addition per element';
  } else if (multiplicationOps.has(call.op)) {
    row.precision = { mult: floatWidth(options.bits) };
    row.mults = product(call.output);
    row.note = 'elementwise multiply: one per element';
  } else {
    throw new Error(
      `cannot score the operator ${call.op} after '${after}': the forward computes it outside any layer, and no counting rule covers it`,
    );
  }
  return row;
}

/** A row's operations: multiplies weighted by their width (bits/32), additions at 32 bits. */
export function officialOps(l: LayerScore): number {
  return l.mults * ((l.precision?.mult ?? 32) / 32) + l.adds;
}
