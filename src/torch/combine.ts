// Operations over several tensors.
import { op } from './ops.js';
import { callTensor, type Tensor, type TensorOrNumber } from './tensor.js';

/** Tensors joined along an existing dimension (same sizes elsewhere). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensor(op('cat'), tensors, dim);
}

/** Tensors of one shape joined along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensor(op('stack'), tensors, dim);
}

/** Elementwise choice: x where condition holds, y elsewhere (broadcasting). */
export function where(condition: Tensor, x: TensorOrNumber, y: TensorOrNumber): Tensor {
  if (typeof x === 'number' && typeof y === 'number') return callTensor(op('where.Scalar'), condition, x, y);
  if (typeof x === 'number') return callTensor(op('where.ScalarSelf'), condition, x, y);
  if (typeof y === 'number') return callTensor(op('where.ScalarOther'), condition, x, y);
  return callTensor(op('where.self'), condition, x, y);
}

/** Elementwise minimum (broadcasting; NaN propagates). */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return callTensor(op('minimum'), a, b);
}

/** Elementwise maximum (broadcasting; NaN propagates). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return callTensor(op('maximum'), a, b);
}
