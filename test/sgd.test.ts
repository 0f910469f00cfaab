// SGD's multi-tensor update (the default on CUDA) is the per-parameter update, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { SGD } from '../src/train/sgd.js';

test('the multi-tensor SGD update equals the per-parameter one: Nesterov, weight decay, a parameter without gradient, a reset', () => {
  const g = new T.Generator(2);
  const shapes = [[8, 4, 3, 3], [8], [10, 8], [10], [5]];
  const start = shapes.map((s) => T.keep(T.randn(s, { generator: g })));
  const grads = Array.from({ length: 6 }, () => shapes.map((s) => T.keep(T.randn(s, { generator: g }))));
  const run = (foreach: boolean) => {
    const params = start.map((t, i) => [`p${i}`, T.keep(t.clone())] as [string, T.Tensor]);
    const sgd = new SGD(params, { momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true }, foreach);
    grads.forEach((step, k) => {
      if (k === 3) sgd.reset();
      // The last parameter gets a gradient from the second step on: its momentum starts later.
      params.forEach(([, p], i) => { p.grad = i === 4 && k === 0 ? null : step[i]!; });
      sgd.step(0.05 + 0.01 * k);
      sgd.zeroGrad();
    });
    return params.map(([, p]) => p.data<'float32'>());
  };
  const loop = run(false);
  const multi = run(true);
  multi.forEach((values, i) => assert.deepEqual(values, loop[i], `parameter ${i}`));
  assert.notDeepEqual(loop[0], start[0]!.data());
});
