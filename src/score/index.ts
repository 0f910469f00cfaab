// MicroNet scoring of any model built from micronet's layers.
import type { Module } from '../nn/index.js';
import { scoreId56 } from './id56.js';
import { scoreOfficial, type PrecisionOptions } from './official.js';
import type { Rules, ScoreReport } from './report.js';
import { traceForward } from './trace.js';

export type { LayerScore, Rules, ScoreReport } from './report.js';
export type { PrecisionOptions } from './official.js';
export { reference } from './report.js';

export function scoreModel(model: Module, options: PrecisionOptions & { rules: Rules; inputShape?: number[] }): ScoreReport {
  const trace = traceForward(model, options.inputShape);
  return options.rules === 'official' ? scoreOfficial(trace, options) : scoreId56(trace, options);
}
