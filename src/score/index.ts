// MicroNet scoring of any model built from micronet's layers.
import type { Module } from '../nn/index.js';
import { scoreId56 } from './id56.js';
import { scoreOfficial } from './official.js';
import { checkPrecision, precisionNotes, quantizedLayers, type PrecisionOptions } from './precision.js';
import type { Rules, ScoreReport } from './report.js';
import { traceForward } from './trace.js';

export type { LayerScore, Rules, ScoreReport } from './report.js';
export type { LayerPrecision, PrecisionOptions } from './precision.js';
export { bitsLabel, checkPrecision, quantizedLayers } from './precision.js';
export { layerOps, publishedEntry, reference } from './report.js';

/** Storage, operations and score of a model under a rule set, at the widths the options give. */
export function scoreModel(model: Module, options: PrecisionOptions & { rules: Rules; inputShape?: number[] }): ScoreReport {
  checkPrecision(model, options.bits);
  const trace = traceForward(model, options.inputShape);
  const report = options.rules === 'official' ? scoreOfficial(trace, options) : scoreId56(trace, options);
  report.notes.push(...precisionNotes(model, options.bits));
  return report;
}

/** The widths a model is scored at unless told: its own when it has a quantized layer, else the 16-bit freebie. */
export function defaultBits(model: Module): 16 | 'model' {
  return quantizedLayers(model).length ? 'model' : 16;
}
