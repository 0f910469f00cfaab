// Bad calls throw clear JS errors carrying libtorch's message, and the process carries on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';

const { F } = T;

test('shape mismatches name the sizes', () => {
  assert.throws(() => T.ones([2, 3]).add(T.ones([4])), /size of tensor a \(3\) must match the size of tensor b \(4\)/);
  assert.throws(() => T.ones([2, 3]).matmul(T.ones([2, 3])), /cannot be multiplied/);
  assert.throws(
    () => F.conv2d(T.ones([1, 4, 8, 8]), T.ones([8, 3, 3, 3])),
    /expected input\[1, 4, 8, 8\] to have 3 channels/,
  );
  assert.throws(() => T.ones([6]).view([4]), /shape '\[4\]' is invalid for input of size 6/);
});

test("wrong dtypes are refused with libtorch's message", () => {
  assert.throws(() => T.ones([3]).indexSelect(0, T.ones([2])), /index_select\(\): Expected dtype int(32|64)/);
  assert.throws(() => F.crossEntropy(T.ones([2, 3]), T.ones([2])), /Expected .*Long|expected scalar type Long/i);
  assert.throws(() => T.ones([2], { dtype: 'bool' }).neg(), /Negation, the `-` operator, on a bool tensor/);
});

test('JS values of the wrong kind are named by operator and argument', () => {
  assert.throws(() => T.zeros(['a' as unknown as number]), /aten::zeros: argument 'size' expects int\[\], got string/);
  assert.throws(() => T.zeros([2.5]), /expected an integer/);
  assert.throws(() => T.tensor([1, 2, 3], { shape: [2, 2] }), /3 values do not fill shape \[2, 2\]/);
  assert.throws(() => T.tensor(new Uint16Array(2)), /pass \{ dtype \}/);
  assert.throws(
    () => T.tensor(new Float32Array(3), { shape: [2, 2] }),
    /12 bytes given, shape \[2, 2\] of Float needs 16/,
  );
  assert.throws(() => T.op('no_such_op').index, /unknown operator aten::no_such_op/);
  assert.throws(() => F.dropout(T.ones([2]), 1.5, true), /probability must be in \[0, 1\]/);
  assert.throws(() => T.ones([2]).to('float8' as T.DType), /unknown dtype 'float8'/);
});

test('use after dispose is caught before reaching libtorch', () => {
  const t = T.ones([2]);
  t.dispose();
  t.dispose(); // idempotent
  assert.equal(t.isDisposed, true);
  assert.throws(() => t.add(1), /Tensor was used after dispose\(\)/);
  assert.throws(() => T.ones([2]).add(t), /Tensor was used after dispose\(\)/);
  assert.equal(t.toString(), 'Tensor(disposed)');
});

test('autograd misuse is explained', () => {
  assert.throws(() => T.ones([2]).sum().backward(), /does not require grad/);
  assert.throws(
    () => T.ones([2], { requiresGrad: true }).mul(2).backward(),
    /gradient is needed for a non-scalar output of shape \[2\]/,
  );
  assert.throws(() => T.ones([2, 2]).item(), /tensor has 4 elements, not 1/);
  const w = T.ones([3], { requiresGrad: true });
  const y = w.mul(w).sum();
  y.backward();
  assert.throws(() => y.backward(), /backward through the graph a second time/);
  assert.throws(() => {
    w.grad = T.ones([4]);
  }, /gradient shape \[4\] differs from tensor shape \[3\]/);
});

test('the engine keeps working after errors, and failed calls leak nothing', () => {
  const before = T.liveTensors();
  for (let i = 0; i < 100; i++) {
    try {
      T.tidy(() => T.ones([2, 3]).add(T.ones([5])));
    } catch {
      /* expected */
    }
  }
  assert.equal(T.liveTensors(), before);
  assert.deepEqual(
    T.tidy(() => T.ones([2]).add(1).data()),
    new Float32Array([2, 2]),
  );
});
