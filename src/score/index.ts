// MicroNet scoring of any model built from micronet's layers.
import type { Module } from '../nn/index.js';
import { checkPrecision, precisionNotes, quantizedLayers, type PrecisionOptions } from './precision.js';
import type { ScoreReport } from './report.js';
import { ruleSet, type Rules } from './rules.js';
import { traceForward } from '../nn/trace.js';

export type { LayerScore, ScoreReport } from './report.js';
export { ruleNames, ruleSet, type Rules, type RuleSet } from './rules.js';
export type { LayerPrecision, PrecisionOptions } from './precision.js';
export { bitsLabel, checkPrecision, quantizedLayers } from './precision.js';
export { publishedEntry, reference, referenceLabels, top1Bar } from './report.js';

/** Storage, operations and score of a model under a rule set, at the widths the options give. */
export function scoreModel(
  model: Module,
  options: PrecisionOptions & { rules: Rules; inputShape?: number[] },
): ScoreReport {
  checkPrecision(model, options.bits);
  const trace = traceForward(model, options.inputShape);
  const report = ruleSet(options.rules).score(trace, options);
  report.notes.push(...precisionNotes(model, options.bits));
  return report;
}

/** The widths a model is scored at unless told: its own when it has a quantized layer, else the 16-bit freebie. */
export function defaultBits(model: Module): 16 | 'model' {
  return quantizedLayers(model).length ? 'model' : 16;
}
