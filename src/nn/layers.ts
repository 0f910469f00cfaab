// The layers the seed network needs, with PyTorch's parameter names and defaults.
import * as T from '../torch/index.js';
import { Module } from './module.js';

const { F } = T;

export interface InitOptions {
  /** Draws the initial weights; without one the default generator is used. */
  generator?: T.Generator;
}

/** uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for conv and linear weights and biases. */
function fanInUniform(shape: number[], fanIn: number, init: InitOptions): T.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return T.zeros(shape).uniform_(-bound, bound, init.generator ?? null);
}

export interface WeightLayerOptions extends InitOptions {
  bias?: boolean;
  /** Adds a `mask` buffer (ones) between weight and bias; the layer computes with weight*mask. */
  masked?: boolean;
}

/** A layer computing with a weight, an optional mask and an optional bias (conv, linear). */
export abstract class WeightLayer extends Module {
  readonly masked: boolean;

  protected constructor(weightShape: number[], fanIn: number, options: WeightLayerOptions) {
    super();
    this.masked = options.masked ?? false;
    this.registerParameter('weight', fanInUniform(weightShape, fanIn, options));
    if (this.masked) this.registerBuffer('mask', T.ones(weightShape));
    if (options.bias ?? true) this.registerParameter('bias', fanInUniform([weightShape[0]!], fanIn, options));
  }

  get weight(): T.Tensor { return this.get('weight'); }
  get bias(): T.Tensor | null { return this.find('bias'); }
  get mask(): T.Tensor | null { return this.masked ? this.get('mask') : null; }
  get outChannels(): number { return this.weight.size(0); }

  /** The weight the layer computes with: weight*mask when masked. */
  effectiveWeight(): T.Tensor {
    return this.masked ? this.weight.mul(this.get('mask')) : this.weight;
  }

  protected abstract compute(x: T.Tensor, weight: T.Tensor): T.Tensor;

  forward(x: T.Tensor): T.Tensor {
    const w = this.effectiveWeight();
    const y = this.compute(x, w);
    if (w !== this.weight) w.dispose();  // freed now, as PyTorch frees the product (autograd keeps what it needs)
    return y;
  }
}

export interface Conv2dOptions extends WeightLayerOptions {
  stride?: number;
  padding?: number;
}

export class Conv2d extends WeightLayer {
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, outChannels: number, readonly kernelSize: number, options: Conv2dOptions = {}) {
    super([outChannels, inChannels, kernelSize, kernelSize], inChannels * kernelSize * kernelSize, options);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
  }

  override describe(): string {
    return `${this.masked ? 'MaskedConv2d' : 'Conv2d'}(${this.inChannels}, ${this.outChannels}, k=${this.kernelSize}, s=${this.stride}, p=${this.padding})`;
  }

  protected compute(x: T.Tensor, w: T.Tensor): T.Tensor {
    return F.conv2d(x, w, this.bias, { stride: this.stride, padding: this.padding });
  }
}

export class MaskedConv2d extends Conv2d {
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Omit<Conv2dOptions, 'masked'> = {}) {
    super(inChannels, outChannels, kernelSize, { ...options, masked: true });
  }
}

export type LinearOptions = WeightLayerOptions;

export class Linear extends WeightLayer {
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super([outFeatures, inFeatures], inFeatures, options);
  }

  override describe(): string {
    return `${this.masked ? 'MaskedLinear' : 'Linear'}(${this.inFeatures}, ${this.outFeatures})`;
  }

  protected compute(x: T.Tensor, w: T.Tensor): T.Tensor {
    return F.linear(x, w, this.bias);
  }
}

export class MaskedLinear extends Linear {
  constructor(inFeatures: number, outFeatures: number, options: Omit<LinearOptions, 'masked'> = {}) {
    super(inFeatures, outFeatures, { ...options, masked: true });
  }
}

export class BatchNorm2d extends Module {
  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1) {
    super();
    this.registerParameter('weight', T.ones([numFeatures]));
    this.registerParameter('bias', T.zeros([numFeatures]));
    this.registerBuffer('running_mean', T.zeros([numFeatures]));
    this.registerBuffer('running_var', T.ones([numFeatures]));
    this.registerBuffer('num_batches_tracked', T.zeros([], { dtype: 'int64' }));
  }

  override describe(): string {
    return `BatchNorm2d(${this.numFeatures}, eps=${this.eps})`;
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    if (training) T.noGrad(() => this.get('num_batches_tracked').add_(1));
    return F.batchNorm(x, this.get('running_mean'), this.get('running_var'),
      { weight: this.get('weight'), bias: this.get('bias'), training, momentum: this.momentum, eps: this.eps });
  }
}

export class ReLU extends Module {
  forward(x: T.Tensor): T.Tensor {
    return F.relu(x);
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number, readonly stride = kernelSize, readonly padding = 0) {
    super();
  }

  override describe(): string {
    return `MaxPool2d(k=${this.kernelSize}, s=${this.stride}, p=${this.padding})`;
  }

  forward(x: T.Tensor): T.Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number) {
    super();
  }

  forward(x: T.Tensor): T.Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Zeroes whole channels with probability p in training; the identity in eval. */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) {
    super();
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return F.dropout2d(x, this.p, training);
  }
}

/** Children named 0, 1, 2, ... applied in order. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((layer, i) => this.registerModule(String(i), layer));
  }

  forward(x: T.Tensor, training: boolean): T.Tensor {
    return chain(x, training, this.layers);
  }
}

/**
 * Applies modules in turn, freeing each intermediate as soon as the next one exists (autograd
 * keeps what it needs), so that peak memory stays that of PyTorch's eager execution.
 */
export function chain(x: T.Tensor, training: boolean, layers: readonly Module[]): T.Tensor {
  let h = x;
  for (const layer of layers) {
    const next = layer.forward(h, training);
    if (h !== x && next !== h) h.dispose();
    h = next;
  }
  return h;
}
