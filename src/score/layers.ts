// Facts about a layer that both rule sets count: weights actually used and their non-zeros.
import * as T from '../torch/index.js';
import type { Module, WeightLayer } from '../nn/index.js';

/** A conv/linear layer's weight elements, the non-zero ones among them, and its outputs. */
interface WeightFacts {
  numel: number;
  nonzero: number;
  outChannels: number;
  hasBias: boolean;
}

/**
 * Sparsity is read from the weight as stored (weight*mask, on its grid when quantized); `dense`
 * skips that and counts every weight (an architecture, whose random initial values may hold an exact 0).
 */
export function weightFacts(m: WeightLayer, dense = false): WeightFacts {
  const nonzero = dense ? m.weight.numel : T.tidy(() => T.noGrad(() => m.storedWeight().countNonzero().item()));
  return { numel: m.weight.numel, nonzero, outChannels: m.outChannels, hasBias: m.bias !== null };
}

/** The layer's kind, e.g. `MaskedConv2d`. */
export function typeName(m: Module): string {
  return m.describe().replace(/\(.*$/, '');
}

/** The number of elements of a shape. */
export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Operators outside the layers that add elementwise (a residual connection, a sum of branches). */
export const additionOps = new Set(['add.Tensor', 'add_.Tensor', 'sub.Tensor']);
/** Operators outside the layers that multiply elementwise. */
export const multiplicationOps = new Set(['mul.Tensor', 'mul_.Tensor']);
/** Operators outside the layers that only move or view data: free under every rule set. */
export const freeOps = new Set([
  'cat',
  'view',
  'reshape',
  '_unsafe_view',
  'flatten.using_ints',
  'narrow',
  'slice.Tensor',
  'select.int',
  'constant_pad_nd',
  'contiguous',
  'clone',
  'alias',
  'squeeze.dim',
  'unsqueeze',
  'permute',
  'transpose.int',
  'expand',
  'detach',
]);
