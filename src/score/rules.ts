// The rule sets a model can be scored under, by name, as models and recipes are: each counts a
// traced forward pass in a file of its own (docs/SPEC.md §6), and says how it counts operations.
import { multAdds, scoreId56 } from './id56.js';
import { officialOps, scoreOfficial } from './official.js';
import type { PrecisionOptions } from './precision.js';
import type { LayerScore, ScoreReport } from './report.js';
import type { Trace } from '../nn/trace.js';

export interface RuleSet {
  /** One line on whose rules these are. */
  readonly summary: string;
  /** What its operation count is called in reports. */
  readonly opsName: string;
  /** How its operations are counted, for a report at this width. */
  opsFormula(bitWidth: number | 'mixed'): string;
  /** One row's operations. */
  layerOps(l: LayerScore): number;
  score(trace: Trace, options: PrecisionOptions): ScoreReport;
}

const registry = {
  official: {
    summary: "the challenge's counting rules",
    opsName: 'ops',
    opsFormula: (w) => `multiplies x ${w === 'mixed' ? 'their bits' : w}/32 + additions`,
    layerOps: officialOps,
    score: scoreOfficial,
  },
  id56: {
    summary: "the entry's own scorer (ID56, its submission), quirks included",
    opsName: 'mult-adds',
    opsFormula: () => 'mult-adds: multiplies + additions',
    layerOps: multAdds,
    score: scoreId56,
  },
} satisfies Record<string, RuleSet>;

/** A rule set's name. */
export type Rules = keyof typeof registry;
/** Every rule set, the challenge's first. */
export const ruleNames = Object.keys(registry) as Rules[];

/** The rule set of this name; throws naming the known ones. */
export function ruleSet(name: string): RuleSet {
  if (!Object.hasOwn(registry, name))
    throw new Error(`unknown scoring rules '${name}' (known: ${ruleNames.join(', ')})`);
  return registry[name as Rules];
}
