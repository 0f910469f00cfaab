// Seeded randomness with explicit generators. Random tensors are drawn on the CPU and moved, so a
// seed gives the same values whatever the device.
import { dtypeCode, type DType } from './dtype.js';
import { native, type GeneratorHandle } from './native.js';
import { op } from './ops.js';
import { applyTensorOptions, type TensorOptions } from './creation.js';
import { callTensor, Tensor, type Device, type Shape } from './tensor.js';

/** A random number generator (torch.Generator), seeded, or wrapping a native one such as a device's default. */
export class Generator {
  /** The native generator. */
  readonly handle: GeneratorHandle;
  constructor(seed: number | bigint | { handle: GeneratorHandle }) {
    this.handle = typeof seed === 'object' ? seed.handle : native.newGenerator(seed);
  }

  /** The generator that unseeded random ops (dropout) on a device draw from, as seeded by manualSeed. */
  static default(device: Device = 'cpu'): Generator {
    return new Generator({ handle: native.defaultGenerator(device) });
  }
  /** The seed the generator was created or last seeded with. */
  get initialSeed(): bigint {
    return native.generatorInitialSeed(this.handle);
  }
  /** The full generator state as a uint8 tensor, for checkpoints. */
  getState(): Tensor {
    return new Tensor(native.generatorGetState(this.handle));
  }
  /** Restores a state from getState(). */
  setState(state: Tensor): void {
    native.generatorSetState(this.handle, state.handle);
  }
}

/** Seeds the default generators (CPU and CUDA), as torch.manual_seed. */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(seed);
}

/** Tensor options plus the generator to draw from (the device's default one when absent). */
export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function drawn(name: string, args: (number | Shape)[], options: RandomOptions, defaultDtype: DType): Tensor {
  const t = callTensor(
    op(name),
    ...args,
    options.generator ?? null,
    dtypeCode(options.dtype ?? defaultDtype),
    null,
    null,
    null,
  );
  return applyTensorOptions(t, options);
}

/** Uniform on [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  return drawn('rand.generator', [shape], options, 'float32');
}

/** Standard normal. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  return drawn('randn.generator', [shape], options, 'float32');
}

/** Integers uniform on [low, high). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  return drawn('randint.low_generator', [low, high, shape], options, 'int64');
}

/** A random permutation of 0..n-1. */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  return drawn('randperm.generator', [n], options, 'int64');
}

/** 0/1 draws with the given per-element probabilities (same shape and dtype as probs). */
export function bernoulli(probs: Tensor, options: { generator?: Generator } = {}): Tensor {
  return callTensor(op('bernoulli'), probs, options.generator ?? null);
}
