// The layers the seed network needs, with PyTorch's parameter names and defaults.
import { shown } from '../text.js';
import * as T from '../torch/index.js';
import * as Q from './fake-quant.js';
import { Module } from './module.js';
import { op } from '../torch/ops.js';
import { callTensor } from '../torch/tensor.js';

const constantPad = op('constant_pad_nd');

const { F } = T;

/** How a layer draws its initial parameters. */
export interface InitOptions {
  /** Draws the initial weights; without one the default generator is used. */
  generator?: T.Generator;
}

/** uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for conv and linear weights and biases. */
function fanInUniform(shape: number[], fanIn: number, init: InitOptions): T.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return T.zeros(shape).uniform_(-bound, bound, init.generator ?? null);
}

/** Options of a conv or linear layer: initialisation, bias (default true), mask. */
export interface WeightLayerOptions extends InitOptions {
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
  /** Adds a `mask` buffer (ones) between weight and bias; the layer computes with weight*mask. */
  masked?: boolean;
}

/** Bit widths of a quantized conv/linear: its weights (symmetric, per output channel) and its input (per tensor). */
export interface LayerBits {
  weight: number;
  input: number;
}

/** A layer computing with a weight, an optional mask and an optional bias (conv, linear). */
export abstract class WeightLayer extends Module {
  /** Whether the layer has a `mask` buffer (a prunable layer). */
  readonly masked: boolean;
  #bits: LayerBits | null = null;
  #averagingConstant = 0.01;
  /** Quantized layers: whether training forwards move the input range (false: frozen). */
  observing = true;
  /** Quantized layers in eval: compute with the integers themselves (exact, float64) instead of fake-quantized floats. */
  integerSimulation = false;
  /** Quantized layers: eval forwards move the input range too (post-training calibration). */
  calibrating = false;

  protected constructor(weightShape: number[], fanIn: number, options: WeightLayerOptions) {
    super();
    this.masked = options.masked ?? false;
    this.registerParameter('weight', fanInUniform(weightShape, fanIn, options));
    if (this.masked) this.registerBuffer('mask', T.ones(weightShape));
    if (options.bias ?? true) this.registerParameter('bias', fanInUniform([weightShape[0]!], fanIn, options));
  }

  /** The weight parameter, unmasked. */
  get weight(): T.Tensor {
    return this.get('weight');
  }
  /** The bias parameter; null for a layer without one. */
  get bias(): T.Tensor | null {
    return this.find('bias');
  }
  /** The mask buffer (1 keeps a weight, 0 prunes it); null for an unmasked layer. */
  get mask(): T.Tensor | null {
    return this.masked ? this.get('mask') : null;
  }
  /** Output channels (conv) or features (linear): the weight's first dimension. */
  get outChannels(): number {
    return this.weight.size(0);
  }
  /** The layer's bit widths once quantized; null for a float layer. */
  get bits(): LayerBits | null {
    return this.#bits;
  }
  /** The input range's moving-average constant of a quantized layer. */
  get averagingConstant(): number {
    return this.#averagingConstant;
  }

  /** The weight the layer computes with: weight*mask when masked. */
  effectiveWeight(): T.Tensor {
    return this.masked ? this.weight.mul(this.get('mask')) : this.weight;
  }

  /**
   * The weight as the layer stores it: weight*mask, on its quantization grid when quantized (a
   * weight that rounds to 0 is a zero of the stored tensor).
   */
  storedWeight(): T.Tensor {
    const w = this.effectiveWeight();
    if (!this.#bits) return w;
    const q = this.#quantizeWeight(w, this.#bits);
    if (w !== this.weight) w.dispose();
    return q;
  }

  /** Gives the layer a (zero) bias, e.g. to take a folded BatchNorm's shift. */
  ensureBias(): T.Tensor {
    return this.bias ?? this.registerParameter('bias', T.zeros([this.outChannels], { device: this.weight.device }));
  }

  /**
   * Makes the layer quantization-aware (QAT): its input is fake-quantized per tensor to
   * `bits.input` unsigned bits with a moving-average range (averaging constant c), its weight
   * per output channel to `bits.weight` signed symmetric bits. The ranges and qparams become
   * buffers, saved with the weights.
   */
  quantize(bits: LayerBits, averagingConstant = 0.01): this {
    if (this.#bits) throw new Error(`${this.describe()} is quantized already`);
    Q.checkBits(bits.weight, `${this.describe()} weights`);
    Q.checkBits(bits.input, `${this.describe()} input`);
    if (!(averagingConstant > 0 && averagingConstant <= 1))
      throw new Error(`averaging constant must be in (0, 1], got ${shown(averagingConstant)}`);
    const device = this.weight.device;
    const c = this.outChannels;
    this.registerBuffer('input_min', T.full([], Number.POSITIVE_INFINITY, { device }));
    this.registerBuffer('input_max', T.full([], Number.NEGATIVE_INFINITY, { device }));
    this.registerBuffer('input_scale', T.ones([], { device }));
    this.registerBuffer('input_zero_point', T.zeros([], { dtype: 'int32', device }));
    this.registerBuffer('weight_scale', T.ones([c], { device }));
    this.registerBuffer('weight_zero_point', T.zeros([c], { dtype: 'int32', device }));
    this.#bits = { ...bits };
    this.#averagingConstant = averagingConstant;
    return this;
  }

  protected abstract compute(x: T.Tensor, weight: T.Tensor, bias: T.Tensor | null): T.Tensor;

  /** The layer's output with the effective weight, fake-quantized (or integer-simulated in eval) once quantized. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    const w = this.effectiveWeight();
    const y = this.#bits ? this.#quantizedForward(x, w, training, this.#bits) : this.compute(x, w, this.bias);
    if (w !== this.weight) w.dispose(); // freed now, as PyTorch frees the product (autograd keeps what it needs)
    return y;
  }

  /** w on its per-channel grid; the grid follows the weight's current range while observing (in eval too). */
  #quantizeWeight(w: T.Tensor, bits: LayerBits): T.Tensor {
    const range = Q.signedRange(bits.weight);
    const scale = this.get('weight_scale');
    const zeroPoint = this.get('weight_zero_point');
    if (this.observing) {
      T.noGrad(() =>
        T.tidy(() => {
          const { min, max } = w
            .detach()
            .reshape([w.size(0), -1])
            .aminmax(1);
          const q = Q.symmetricQParams(min, max, range);
          scale.copy_(q.scale);
          zeroPoint.copy_(q.zeroPoint);
        }),
      );
    }
    return Q.fakeQuantizePerChannel(w, scale, zeroPoint, range);
  }

  #quantizedForward(x: T.Tensor, w: T.Tensor, training: boolean, bits: LayerBits): T.Tensor {
    const inputRange = Q.unsignedRange(bits.input);
    const inScale = this.get('input_scale');
    const inZero = this.get('input_zero_point');
    if (this.observing && (training || this.calibrating)) {
      T.noGrad(() =>
        T.tidy(() => {
          Q.observeMinMax(this.get('input_min'), this.get('input_max'), x, this.#averagingConstant, false);
          const q = Q.affineQParams(this.get('input_min'), this.get('input_max'), inputRange);
          inScale.copy_(q.scale);
          inZero.copy_(q.zeroPoint);
        }),
      );
    }
    return T.tidy(() => {
      const xq = Q.fakeQuantizePerTensor(x, inScale, inZero, inputRange);
      const wq = this.#quantizeWeight(w, bits);
      if (training || !this.integerSimulation) return this.compute(xq, wq, this.bias);
      // Integer simulation: exact integer products and sums (float64 holds them), bias in units
      // of the product scale, then one rescale per output channel.
      const wScale = this.get('weight_scale');
      const scale = inScale.to('float64').mul(wScale.to('float64'));
      const bias = this.bias ? Q.biasIntegers(this.bias, inScale, wScale) : null;
      const acc = this.compute(Q.integersOf(xq, inScale), Q.integersOf(wq, wScale), bias);
      return acc.mul(scale.reshape([-1, ...Array(acc.ndim - 2).fill(1)])).to('float32');
    });
  }
}

/** Options of a 2-d convolution: square stride and padding (defaults 1 and 0) besides the weight layer's. */
export interface Conv2dOptions extends WeightLayerOptions {
  stride?: number;
  padding?: number;
  /** Channel groups (default 1; the input channels for a depthwise convolution). */
  groups?: number;
}

/** A square-kernel 2-d convolution (nn.Conv2d, dilation 1), grouped when options.groups > 1; masked when options.masked. */
export class Conv2d extends WeightLayer {
  /** Stride in both directions. */
  readonly stride: number;
  /** Zero padding on every side. */
  readonly padding: number;
  /** Channel groups: each output reads inChannels / groups inputs. */
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups || outChannels % groups)
      throw new Error(`Conv2d: ${groups} groups do not divide ${inChannels} inputs and ${outChannels} outputs`);
    const perGroup = inChannels / groups;
    super([outChannels, perGroup, kernelSize, kernelSize], perGroup * kernelSize * kernelSize, options);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.groups = groups;
  }

  /** E.g. "Conv2d(3, 192, k=3, s=1, p=1)", or MaskedConv2d for a masked layer. */
  override describe(): string {
    return `${this.masked ? 'MaskedConv2d' : 'Conv2d'}(${this.inChannels}, ${this.outChannels}, k=${this.kernelSize}, s=${this.stride}, p=${this.padding}${this.groups > 1 ? `, g=${this.groups}` : ''})`;
  }

  protected compute(x: T.Tensor, w: T.Tensor, bias: T.Tensor | null): T.Tensor {
    return F.conv2d(x, w, bias, { stride: this.stride, padding: this.padding, groups: this.groups });
  }
}

/** A Conv2d with a mask (prunable): Conv2d with options.masked. */
export class MaskedConv2d extends Conv2d {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    options: Omit<Conv2dOptions, 'masked'> = {},
  ) {
    super(inChannels, outChannels, kernelSize, { ...options, masked: true });
  }
}

/** Options of a linear layer: those of any weight layer. */
export type LinearOptions = WeightLayerOptions;

/** A fully connected layer (nn.Linear); masked when options.masked. */
export class Linear extends WeightLayer {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super([outFeatures, inFeatures], inFeatures, options);
  }

  /** E.g. "Linear(1024, 100)", or MaskedLinear for a masked layer. */
  override describe(): string {
    return `${this.masked ? 'MaskedLinear' : 'Linear'}(${this.inFeatures}, ${this.outFeatures})`;
  }

  protected compute(x: T.Tensor, w: T.Tensor, bias: T.Tensor | null): T.Tensor {
    return F.linear(x, w, bias);
  }
}

/** A Linear with a mask (prunable): Linear with options.masked. */
export class MaskedLinear extends Linear {
  constructor(inFeatures: number, outFeatures: number, options: Omit<LinearOptions, 'masked'> = {}) {
    super(inFeatures, outFeatures, { ...options, masked: true });
  }
}

/** Batch normalisation over the channels of an NCHW batch (nn.BatchNorm2d: affine, tracking running statistics). */
export class BatchNorm2d extends Module {
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.registerParameter('weight', T.ones([numFeatures]));
    this.registerParameter('bias', T.zeros([numFeatures]));
    this.registerBuffer('running_mean', T.zeros([numFeatures]));
    this.registerBuffer('running_var', T.ones([numFeatures]));
    this.registerBuffer('num_batches_tracked', T.zeros([], { dtype: 'int64' }));
  }

  /** E.g. "BatchNorm2d(192, eps=0.00001)". */
  override describe(): string {
    return `BatchNorm2d(${this.numFeatures}, eps=${this.eps})`;
  }

  /** Normalises with the batch statistics and updates the running ones in training; uses the running ones in eval. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    if (training) T.noGrad(() => this.get('num_batches_tracked').add_(1));
    return F.batchNorm(x, this.get('running_mean'), this.get('running_var'), {
      weight: this.get('weight'),
      bias: this.get('bias'),
      training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** max(x, 0), elementwise (nn.ReLU). */
export class ReLU extends Module {
  /** max(x, 0). */
  forward(x: T.Tensor): T.Tensor {
    return F.relu(x);
  }
}

/** A square window's pooling: its size, stride (the window's size by default) and zero padding. */
abstract class Pool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }

  /** E.g. "MaxPool2d(k=3, s=2, p=1)". */
  override describe(): string {
    return `${this.constructor.name}(k=${this.kernelSize}, s=${this.stride}, p=${this.padding})`;
  }
}

/** Square-window 2-d max pooling (nn.MaxPool2d). */
export class MaxPool2d extends Pool2d {
  /** The maximum of each window. */
  forward(x: T.Tensor): T.Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Square-window 2-d average pooling (nn.AvgPool2d, zero padding counted in the average). */
export class AvgPool2d extends Pool2d {
  /** The mean of each window. */
  forward(x: T.Tensor): T.Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Average pooling to an outputSize x outputSize map whatever the input's size (nn.AdaptiveAvgPool2d). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number) {
    super();
  }

  /** The average over each of the output's cells. */
  forward(x: T.Tensor): T.Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Pads with zeros (nn.ConstantPad2d with value 0): (left, right, top, bottom); a negative amount crops. */
export class ConstantPad2d extends Module {
  constructor(readonly padding: readonly [number, number, number, number]) {
    super();
  }

  /** E.g. "ConstantPad2d(0, 1, 0, 1)". */
  override describe(): string {
    return `ConstantPad2d(${this.padding.join(', ')})`;
  }

  /** x padded (or cropped) on each side. */
  forward(x: T.Tensor): T.Tensor {
    return callTensor(constantPad, x, [...this.padding], 0);
  }
}

/** Zeroes whole channels with probability p in training; the identity in eval. */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) {
    super();
  }

  /** Channels dropped and the rest scaled by 1/(1-p) in training; x itself in eval. */
  forward(x: T.Tensor, training: boolean): T.Tensor {
    return F.dropout2d(x, this.p, training);
  }
}

/** Passes its input through: what a folded BatchNorm becomes, as in torch.ao's fusion. */
export class Identity extends Module {
  /** x itself. */
  forward(x: T.Tensor): T.Tensor {
    return x;
  }
}

/** Children applied in order, named 0, 1, 2, ... or as given. */
export class Sequential extends Module {
  readonly #layers: Module[];
  readonly #names: string[];

  /** Layers named 0, 1, 2, ...; a [name, layer] pair names its layer (nn.Sequential's add_module). */
  constructor(...layers: (Module | readonly [string, Module])[]) {
    super();
    this.#names = layers.map((l, i) => (l instanceof Module ? String(i) : l[0]));
    this.#layers = layers.map((l, i) => this.registerModule(this.#names[i]!, l instanceof Module ? l : l[1]));
  }

  /** The layers in order. */
  get layers(): readonly Module[] {
    return this.#layers;
  }

  /** Puts another layer at index i (the old one is returned, not disposed). */
  replace(i: number, layer: Module): Module {
    const old = this.#layers[i];
    if (!old) throw new Error(`Sequential has no layer ${i}`);
    this.#layers[i] = this.replaceModule(this.#names[i]!, layer);
    return old;
  }

  override replaceChild(name: string, module: Module): void {
    const i = this.#names.indexOf(name);
    if (i < 0) throw new Error(`Sequential has no layer '${name}'`);
    this.replace(i, module);
  }

  /** The layers applied in turn (see chain). */
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
