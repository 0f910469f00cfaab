// What a scorer produces: per-layer rows and totals, under one rule set.
import type { LayerPrecision } from './precision.js';

/** The challenge's counting rules, or the entry's own scorer. */
export type Rules = 'official' | 'id56';

/** One leaf call (official) or module (id56) and what it costs. */
export interface LayerScore {
  name: string;
  type: string;
  /** Output shape per sample. */
  shape: number[];
  /** Weight elements (conv/linear), 0 for layers without weights. */
  weights: number;
  nonzero: number;
  /** Storage of the layer in bits. */
  bits: number;
  mults: number;
  adds: number;
  /** The widths its stored values and multiplies are counted at; absent where it has neither. */
  precision?: LayerPrecision;
  note?: string;
}

/** A model's storage, operations and score under one rule set. */
export interface ScoreReport {
  rules: Rules;
  /** The width every parameter and multiply is counted at (16: the freebie), or 'mixed' for a quantized model's own bits. */
  bitWidth: number | 'mixed';
  bits: number;
  /** bits / 32 */
  params: number;
  mults: number;
  adds: number;
  /** official: adds + multiplies weighted by precision; id56: mults + adds. */
  ops: number;
  score: number;
  layers: LayerScore[];
  notes: string[];
}

/** The reference network the challenge normalises by (WideResNet-28-10 on CIFAR-100). */
export const reference = { params: 36.5e6, ops: 10.49e9 };

/** The seed entry's published figures: its checkpoint scored by its own (id56) rules with the 16-bit freebie. */
export const publishedEntry = { top1: 0.8018, rules: 'id56' as Rules, bitWidth: 16, params: 1_845_672, ops: 1_627_530_482, score: 0.2057170217506562 };

/** A row's operations under a rule set: official weights multiplies by their width, id56 counts mult-adds. */
export function layerOps(rules: Rules, l: LayerScore): number {
  return rules === 'official' ? l.mults * ((l.precision?.mult ?? 32) / 32) + l.adds : l.mults + l.adds;
}

/** Sums the rows; `ops` comes from the rule set (weighted or not). */
export function totals(rules: Rules, bitWidth: number | 'mixed', layers: LayerScore[], ops: number, notes: string[]): ScoreReport {
  const sum = (f: (l: LayerScore) => number) => layers.reduce((s, l) => s + f(l), 0);
  const bits = sum((l) => l.bits);
  const params = bits / 32;
  return {
    rules, bitWidth, bits, params, mults: sum((l) => l.mults), adds: sum((l) => l.adds), ops,
    score: params / reference.params + ops / reference.ops, layers, notes,
  };
}
