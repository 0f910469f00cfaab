// Neural-network operations with torch.nn.functional's semantics.
import { op } from './ops.js';
import { callTensor, type Tensor } from './tensor.js';

type Pair = number | readonly [number, number];

/** 2-d convolution of an NCHW batch with an (out, in/groups, kH, kW) weight (F.conv2d). */
export function conv2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {},
): Tensor {
  return callTensor(
    op('conv2d'),
    input,
    weight,
    bias,
    options.stride ?? 1,
    options.padding ?? 0,
    options.dilation ?? 1,
    options.groups ?? 1,
  );
}

/** x @ weight^T + bias (F.linear). */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return callTensor(op('linear'), input, weight, bias);
}

/**
 * Batch normalisation. In training, normalises with the batch statistics and updates the running
 * ones in place (running = (1-momentum)*running + momentum*batch, unbiased variance); in eval, uses them.
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: { weight?: Tensor | null; bias?: Tensor | null; training: boolean; momentum?: number; eps?: number },
): Tensor {
  return callTensor(
    op('batch_norm'),
    input,
    options.weight ?? null,
    options.bias ?? null,
    runningMean,
    runningVar,
    options.training,
    options.momentum ?? 0.1,
    options.eps ?? 1e-5,
    true,
  );
}

/** max(x, 0), elementwise. */
export function relu(input: Tensor): Tensor {
  return callTensor(op('relu'), input);
}

/** 2-d max pooling; the stride defaults to the kernel size (F.max_pool2d). */
export function maxPool2d(
  input: Tensor,
  kernelSize: Pair,
  options: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {},
): Tensor {
  return callTensor(
    op('max_pool2d'),
    input,
    kernelSize,
    options.stride ?? kernelSize,
    options.padding ?? 0,
    options.dilation ?? 1,
    options.ceilMode ?? false,
  );
}

/** 2-d average pooling; the stride defaults to the kernel size, padding counts in the average by default (F.avg_pool2d). */
export function avgPool2d(
  input: Tensor,
  kernelSize: Pair,
  options: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
): Tensor {
  return callTensor(
    op('avg_pool2d'),
    input,
    kernelSize,
    options.stride ?? kernelSize,
    options.padding ?? 0,
    options.ceilMode ?? false,
    options.countIncludePad ?? true,
    null,
  );
}

/** Average pooling to a fixed output size whatever the input's (F.adaptive_avg_pool2d). */
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return callTensor(op('adaptive_avg_pool2d'), input, outputSize);
}

function checkP(p: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`${what}: probability must be in [0, 1], got ${p}`);
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export function dropout(input: Tensor, p: number, training: boolean): Tensor {
  checkP(p, 'dropout');
  return callTensor(op('dropout'), input, p, training);
}

/** Zeroes whole channels with probability p (nn.Dropout2d), in training only. */
export function dropout2d(input: Tensor, p: number, training: boolean): Tensor {
  checkP(p, 'dropout2d');
  return callTensor(op('feature_dropout'), input, p, training);
}

/** log(softmax(x)) along dim, computed stably. */
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return callTensor(op('log_softmax.int'), input, dim, null);
}

/** exp(x) normalised to sum 1 along dim. */
export function softmax(input: Tensor, dim: number): Tensor {
  return callTensor(op('softmax.int'), input, dim, null);
}

const reductions = { none: 0, mean: 1, sum: 2 } as const;

/**
 * Cross-entropy of logits against class indices (int64) or class probabilities (same shape as
 * logits). labelSmoothing e mixes the targets with the uniform distribution: 1-e+e/K and e/K.
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  options: {
    labelSmoothing?: number;
    reduction?: keyof typeof reductions;
    weight?: Tensor | null;
    ignoreIndex?: number;
  } = {},
): Tensor {
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const reduction = reductions[options.reduction ?? 'mean'];
  if (reduction === undefined) throw new Error(`crossEntropy: unknown reduction '${options.reduction}'`);
  return callTensor(
    op('cross_entropy_loss'),
    logits,
    target,
    options.weight ?? null,
    reduction,
    options.ignoreIndex ?? -100,
    smoothing,
  );
}

/** Bilinear resize of an NCHW batch to a size or by a scale factor (F.interpolate, mode bilinear). */
export function interpolate(
  input: Tensor,
  options: { size?: Pair; scaleFactor?: Pair; mode?: 'bilinear'; alignCorners?: boolean },
): Tensor {
  if ((options.size === undefined) === (options.scaleFactor === undefined))
    throw new Error('interpolate: give exactly one of size and scaleFactor');
  if ((options.mode ?? 'bilinear') !== 'bilinear') throw new Error(`interpolate: unsupported mode ${options.mode}`);
  const pair = (v: Pair) => (typeof v === 'number' ? [v, v] : v);
  return callTensor(
    op('upsample_bilinear2d.vec'),
    input,
    options.size === undefined ? null : pair(options.size),
    options.alignCorners ?? false,
    options.scaleFactor === undefined ? null : pair(options.scaleFactor),
  );
}

/**
 * Rounds x to the integer grid of (scale, zeroPoint) within [quantMin, quantMax] and back, per
 * tensor (scale float32 and zero point int32 0-d tensors); the gradient is straight-through
 * inside the range and 0 where clamped.
 */
export function fakeQuantizePerTensorAffine(
  x: Tensor,
  scale: Tensor,
  zeroPoint: Tensor,
  quantMin: number,
  quantMax: number,
): Tensor {
  return callTensor(op('fake_quantize_per_tensor_affine.tensor_qparams'), x, scale, zeroPoint, quantMin, quantMax);
}

/** The same with one (scale, zero point) per slice along `axis`. */
export function fakeQuantizePerChannelAffine(
  x: Tensor,
  scale: Tensor,
  zeroPoint: Tensor,
  axis: number,
  quantMin: number,
  quantMax: number,
): Tensor {
  return callTensor(op('fake_quantize_per_channel_affine'), x, scale, zeroPoint, axis, quantMin, quantMax);
}
