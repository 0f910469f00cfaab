// What a scorer produces: per-layer rows and totals, under one rule set.
import type { LayerPrecision } from './precision.js';

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

/** A row that stores and computes nothing yet. */
export const blankRow = (name: string, type: string, shape: number[]): LayerScore => ({
  name,
  type,
  shape,
  weights: 0,
  nonzero: 0,
  bits: 0,
  mults: 0,
  adds: 0,
});

/** A model's storage, operations and score under one rule set. */
export interface ScoreReport {
  /** The rule set's name in the registry (rules.ts). */
  rules: string;
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

/** The challenge's CIFAR-100 bar: an entry must reach this test top-1 (8,000 of 10,000 images) to be scored. */
export const top1Bar = 0.8;

/** The reference network the challenge normalises by (WideResNet-28-10 on CIFAR-100; docs/SPEC.md §1.3). */
export const reference = { params: 36.5e6, ops: 10.49e9 };
/** The reference figures as reports print them: 36.5M and 10.49G. */
export const referenceLabels = { params: `${reference.params / 1e6}M`, ops: `${reference.ops / 1e9}G` };

/** The seed entry's published figures: its checkpoint scored by its own (id56) rules with the 16-bit freebie. */
export const publishedEntry = {
  top1: 0.8018,
  rules: 'id56',
  bitWidth: 16,
  params: 1_845_672,
  ops: 1_627_530_482,
  score: 0.2057170217506562,
};

/** Sums the rows; each row's operations as the rule set counts them (`layerOps`). */
export function totals(
  rules: string,
  bitWidth: number | 'mixed',
  layers: LayerScore[],
  layerOps: (l: LayerScore) => number,
  notes: string[],
): ScoreReport {
  const sum = (f: (l: LayerScore) => number) => layers.reduce((s, l) => s + f(l), 0);
  const bits = sum((l) => l.bits);
  const params = bits / 32;
  const ops = sum(layerOps);
  return {
    rules,
    bitWidth,
    bits,
    params,
    mults: sum((l) => l.mults),
    adds: sum((l) => l.adds),
    ops,
    score: params / reference.params + ops / reference.ops,
    layers,
    notes,
  };
}
