// Eval-only convolutions for the CPU fast path: a convolution and the ReLU after it as one oneDNN
// call (mkldnn::_convolution_pointwise), its weight masked, cast and reordered into oneDNN's
// blocked layout once instead of on every call, as torch.compile's frozen CPU graphs do.
import * as T from '../torch/index.js';
import { op } from '../torch/ops.js';
import { callTensor } from '../torch/tensor.js';
import { Conv2d, Identity, ReLU, Sequential } from './layers.js';
import { Module } from './module.js';

const pointwise = op('mkldnn::_convolution_pointwise');
const reorder = op('mkldnn::_reorder_convolution_weight');

/** Whether this build of the engine has oneDNN's fused convolution (pip's x86 and arm64 wheels do). */
export function fusedConvAvailable(): boolean {
  try {
    return pointwise.index >= 0 && reorder.index >= 0;
  } catch {
    return false;
  }
}

/** A float Conv2d (and optionally the ReLU after it) frozen for CPU inference in `dtype`. */
export class FusedConv2d extends Module {
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;

  constructor(
    conv: Conv2d,
    readonly relu: boolean,
    readonly dtype: 'float32' | 'bfloat16',
  ) {
    super();
    if (conv.bits)
      throw new Error('FusedConv2d: the convolution is quantized (its integer simulation has no fused kernel)');
    this.stride = conv.stride;
    this.padding = conv.padding;
    this.groups = conv.groups;
    T.noGrad(() =>
      T.tidy(() => {
        this.registerBuffer('weight', conv.effectiveWeight().to(dtype).contiguous('channels_last'));
        this.registerBuffer('bias', conv.bias ? conv.bias.to(dtype) : T.zeros([conv.outChannels], { dtype }));
      }),
    );
  }

  #packed: T.Tensor | null = null;

  /** The weight in the blocked layout oneDNN picks for inputs of this shape (made at the first call). */
  #weightFor(x: T.Tensor): T.Tensor {
    return (this.#packed ??= T.keep(
      T.noGrad(() =>
        callTensor(
          reorder,
          this.get('weight'),
          [this.padding, this.padding],
          [this.stride, this.stride],
          [1, 1],
          this.groups,
          x.shape,
        ),
      ),
    ));
  }

  override dispose(): void {
    this.#packed?.dispose();
    this.#packed = null;
    super.dispose();
  }

  override describe(): string {
    return `FusedConv2d(s=${this.stride}, p=${this.padding}${this.relu ? ', relu' : ''}, ${this.dtype})`;
  }

  /** Eval only: conv (+ ReLU) of x, cast to the layer's dtype, in channels_last. */
  forward(x: T.Tensor): T.Tensor {
    const input = x.dtype === this.dtype ? x : x.to(this.dtype);
    try {
      return callTensor(
        pointwise,
        input,
        this.#weightFor(input),
        this.get('bias'),
        [this.padding, this.padding],
        [this.stride, this.stride],
        [1, 1],
        this.groups,
        this.relu ? 'relu' : 'none',
        [],
        null,
      );
    } finally {
      if (input !== x) input.dispose();
    }
  }
}

/**
 * In place, for CPU inference: every float Conv2d of a Sequential becomes a FusedConv2d, taking in
 * the ReLU that follows it (past Identities, e.g. folded BatchNorms). Returns how many were fused.
 */
export function fuseConvolutions(model: Module, dtype: 'float32' | 'bfloat16'): number {
  let fused = 0;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof Sequential)) continue;
    m.layers.forEach((conv, i) => {
      if (!(conv instanceof Conv2d) || conv.bits) return;
      let j = i + 1;
      while (m.layers[j] instanceof Identity) j++;
      const relu = m.layers[j] instanceof ReLU;
      m.replace(i, new FusedConv2d(conv, relu, dtype));
      conv.dispose();
      if (relu) m.replace(j, new Identity());
      fused++;
    });
  }
  return fused;
}
