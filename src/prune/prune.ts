// Magnitude pruning by a multiple of each layer's weight standard deviation, with masks that
// only ever lose ones, and the bookkeeping that keeps pruned weights at zero.
import { shown } from '../text.js';
import * as T from '../torch/index.js';
import { Conv2d, Linear, WeightLayer, type Module } from '../nn/index.js';
import type { Optimizer } from '../optim/optimizer.js';

/** Which masked layers an operation touches: all convs, the linear layers, all, or these names. */
export type LayerSelection = 'conv' | 'linear' | 'all' | readonly string[];

/** One pruning of the masked layers of a kind, at a recipe's q. */
export interface PruneEvent {
  /** Pruning happens before this epoch's first step. */
  epoch: number;
  layers: 'conv' | 'linear' | 'all';
}

/** A conv or linear layer with a mask. */
export type MaskedLayer = WeightLayer;

/** The masked conv/linear layers a selection names, in registration order. */
export function selectLayers(model: Module, selection: LayerSelection): [string, MaskedLayer][] {
  const masked = model
    .namedModules()
    .filter((e): e is [string, MaskedLayer] => e[1] instanceof WeightLayer && e[1].masked);
  if (Array.isArray(selection)) {
    const known = new Set(masked.map(([n]) => n));
    for (const name of selection)
      if (!known.has(name))
        throw new Error(`no masked layer '${name}' (known: ${[...known].slice(0, 5).join(', ')}, ...)`);
    return masked.filter(([n]) => selection.includes(n));
  }
  if (selection === 'all') return masked;
  return masked.filter(([, m]) => (selection === 'conv' ? m instanceof Conv2d : m instanceof Linear));
}

/** One layer's pruning: the threshold used and its non-zero mask entries before and after, out of numel. */
export interface PruneResult {
  name: string;
  threshold: number;
  before: number;
  after: number;
  numel: number;
}

/**
 * threshold = q * population std of the weight over all its elements (pruned zeros included);
 * mask = mask AND |w| >= threshold; w = w * mask. Cumulative: a pruned weight stays pruned.
 */
export function pruneByStd(model: Module, selection: LayerSelection, q: number): PruneResult[] {
  if (!(q >= 0)) throw new Error(`pruning quality q must be >= 0, got ${shown(q)}`);
  return selectLayers(model, selection).map(([name, layer]) =>
    T.noGrad(() =>
      T.tidy(() => {
        const w = layer.weight;
        const mask = layer.mask!;
        const before = mask.countNonzero().item();
        const threshold = q * w.std(undefined, { unbiased: false }).item();
        mask.mul_(w.abs().ge(threshold).to(mask.dtype));
        w.mul_(mask);
        return { name, threshold, before, after: mask.countNonzero().item(), numel: w.numel };
      }),
    ),
  );
}

/** After an optimizer step: w = w * mask, and the optimizer's state zeroed where the mask is 0 (it does that itself). */
export function applyMasks(model: Module, optimizer?: Pick<Optimizer, 'maskState'>): void {
  const layers = selectLayers(model, 'all');
  // A multi-tensor product: one launch on a GPU instead of one per layer.
  T.noGrad(() =>
    T.tidy(() =>
      T.foreachMul_(
        layers.map(([, l]) => l.weight),
        layers.map(([, l]) => l.mask!),
      ),
    ),
  );
  optimizer?.maskState(new Map(layers.map(([name, l]) => [`${name}.weight`, l.mask!])));
}

/** How gradients keep pruned weights at zero (see maskGradients). */
export type GradientMasking = 'masked-weights' | 'zero-params';

/**
 * 'masked-weights': masked weights get no gradient (micronet-seed).
 * 'zero-params': every parameter's gradient is zeroed where the parameter is exactly 0 (the
 * entry's notebook; this also freezes BatchNorm shifts initialised at 0).
 */
export function maskGradients(model: Module, how: GradientMasking): void {
  T.noGrad(() =>
    T.tidy(() => {
      if (how === 'masked-weights') {
        const withGrad = selectLayers(model, 'all').flatMap(([, l]) => {
          const g = l.weight.grad;
          return g ? [[g, l.mask!] as const] : [];
        });
        T.foreachMul_(
          withGrad.map(([g]) => g),
          withGrad.map(([, m]) => m),
        );
        return;
      }
      for (const [, p] of model.namedParameters()) {
        const g = p.grad;
        if (g)
          T.tidy(() => {
            g.mul_(p.ne(0).to(g.dtype));
          });
      }
    }),
  );
}

/** Fraction of conv/linear weights that are zero in the weights actually used (weight * mask). */
export function sparsity(model: Module): { zeros: number; total: number } {
  return layerSparsity(model).reduce((acc, l) => ({ zeros: acc.zeros + l.zeros, total: acc.total + l.total }), {
    zeros: 0,
    total: 0,
  });
}

/** Zero (or masked) weights of each conv/linear layer, by the layer's name. */
export function layerSparsity(model: Module): { name: string; zeros: number; total: number }[] {
  return T.noGrad(() =>
    T.tidy(() =>
      selectLayers(model, 'all').map(([name, l]) => {
        const total = l.weight.numel;
        return { name, zeros: total - l.effectiveWeight().countNonzero().item(), total };
      }),
    ),
  );
}
