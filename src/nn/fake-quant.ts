// Quantization arithmetic with PyTorch's QAT numerics: torch.ao.quantization's observers and
// qparams (float32, in the same order of operations) and ATen's fake-quantize operators, whose
// backward is the straight-through estimator (gradient 1 inside the range, 0 where clamped).
import { shown } from '../text.js';
import * as T from '../torch/index.js';

/** Bit widths a layer's weights or inputs may have. */
export const minBits = 2;
/** The widest of those bit widths (minBits the narrowest). */
export const maxBits = 16;

/** The integer range [min, max] of a quantization grid. */
export interface Range {
  min: number;
  max: number;
}

/** Weights: symmetric signed b-bit integers, so that 0 stays exactly 0 (masks survive). */
export const signedRange = (bits: number): Range => ({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });
/** Inputs: unsigned b-bit integers with a zero point (zero after a ReLU). */
export const unsignedRange = (bits: number): Range => ({ min: 0, max: 2 ** bits - 1 });

/** Throws unless bits is an integer in minBits..maxBits; `what` names the value in the message. */
export function checkBits(bits: number, what: string): void {
  if (!Number.isInteger(bits) || bits < minBits || bits > maxBits)
    throw new Error(`${what}: bit width must be an integer in ${minBits}..${maxBits}, got ${shown(bits)}`);
}

/** torch.finfo(torch.float32).eps: the smallest scale an observer gives. */
export const eps = 2 ** -23;

/**
 * Moving-average min/max observation (MovingAverageMinMaxObserver, or its per-channel form when
 * `perChannel` and axis 0): the first observation sets the range, later ones move it by c.
 */
export function observeMinMax(
  minVal: T.Tensor,
  maxVal: T.Tensor,
  x: T.Tensor,
  averagingConstant: number,
  perChannel: boolean,
): void {
  T.noGrad(() =>
    T.tidy(() => {
      const v = x.detach().float();
      const flat = perChannel ? v.reshape([v.size(0), -1]) : v;
      const { min: lo, max: hi } = flat.aminmax(perChannel ? 1 : null);
      const fresh = minVal.isinf().logicalAnd(maxVal.isinf());
      minVal.copy_(T.where(fresh, lo, minVal.add(lo.sub(minVal).mul(averagingConstant))));
      maxVal.copy_(T.where(fresh, hi, maxVal.add(hi.sub(maxVal).mul(averagingConstant))));
    }),
  );
}

/** Symmetric qparams (per_channel_symmetric, qint8-style): scale = max|x| / ((max - min) / 2), zero point 0. */
export function symmetricQParams(
  minVal: T.Tensor,
  maxVal: T.Tensor,
  range: Range,
): { scale: T.Tensor; zeroPoint: T.Tensor } {
  return T.tidy(() => {
    const neg = T.minimum(minVal, T.zerosLike(minVal));
    const pos = T.maximum(T.maximum(maxVal, T.zerosLike(maxVal)), neg.neg());
    const scale = pos.div((range.max - range.min) / 2).clamp(eps);
    return { scale, zeroPoint: T.zerosLike(pos, { dtype: 'int32' }) };
  });
}

/** Affine qparams (per_tensor_affine): scale = (max - min) / (qmax - qmin), zero point qmin - round(min / scale). */
export function affineQParams(
  minVal: T.Tensor,
  maxVal: T.Tensor,
  range: Range,
): { scale: T.Tensor; zeroPoint: T.Tensor } {
  return T.tidy(() => {
    const neg = T.minimum(minVal, T.zerosLike(minVal));
    const pos = T.maximum(maxVal, T.zerosLike(maxVal));
    const scale = pos
      .sub(neg)
      .div(range.max - range.min)
      .clamp(eps);
    const zeroPoint = neg.div(scale).round().to('int32').neg().add(range.min).clamp(range.min, range.max).to('int32');
    return { scale, zeroPoint };
  });
}

/** x rounded to the b-bit grid of (scale, zero point), per tensor. */
export function fakeQuantizePerTensor(x: T.Tensor, scale: T.Tensor, zeroPoint: T.Tensor, range: Range): T.Tensor {
  return T.F.fakeQuantizePerTensorAffine(x, scale, zeroPoint, range.min, range.max);
}

/** w rounded to each output channel's grid (axis 0). */
export function fakeQuantizePerChannel(w: T.Tensor, scale: T.Tensor, zeroPoint: T.Tensor, range: Range): T.Tensor {
  return T.F.fakeQuantizePerChannelAffine(w, scale, zeroPoint, 0, range.min, range.max);
}

/**
 * The integers behind fake-quantized values, (q - zero point), read back from the values
 * themselves: q - z = round(fq / scale) exactly, since fq = (q - z) * scale in float32. The
 * scale is broadcast along axis 0 for per-channel values. Returned as float64 (exact integers).
 */
export function integersOf(fq: T.Tensor, scale: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const s = scale.ndim === 0 ? scale : scale.reshape([scale.size(0), ...Array(fq.ndim - 1).fill(1)]);
    return fq.div(s).round().to('float64');
  });
}

/** A bias in units of the product scale input_scale * weight_scale, rounded (float64, one per channel): what an int32 accumulator adds. */
export function biasIntegers(bias: T.Tensor, inputScale: T.Tensor, weightScale: T.Tensor): T.Tensor {
  return T.tidy(() =>
    bias
      .to('float64')
      .div(inputScale.to('float64').mul(weightScale.to('float64')))
      .round(),
  );
}
