// ATen's multi-tensor (_foreach_) operators: one call, and on CUDA a few kernel launches, for a
// whole list of tensors, as torch.optim uses them on the GPU.
import { op, rawCall } from './ops.js';
import { callTensors, type Tensor } from './tensor.js';

/** xs[i] *= ys[i], or *= one number, in place. */
export function foreachMul_(xs: readonly Tensor[], by: readonly Tensor[] | number): void {
  if (xs.length) rawCall(op(typeof by === 'number' ? '_foreach_mul_.Scalar' : '_foreach_mul_.List'), [xs, by]);
}

/** xs[i] * by, as new tensors; `by` a 0-dim tensor (libtorch 2.1+). */
export function foreachMul(xs: readonly Tensor[], by: Tensor): Tensor[] {
  return xs.length ? callTensors(op('_foreach_mul.Tensor'), xs, by) : [];
}

/** xs[i] += alpha * ys[i], in place. */
export function foreachAdd_(xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): void {
  if (xs.length) rawCall(op('_foreach_add_.List'), [xs, ys, alpha]);
}

/** xs[i] + alpha * ys[i], as new tensors. */
export function foreachAdd(xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): Tensor[] {
  return xs.length ? callTensors(op('_foreach_add.List'), xs, ys, alpha) : [];
}
