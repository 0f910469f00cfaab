// Tensors in and out of JS memory, and the filled constructors, against PyTorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { Linear } from '../src/nn/index.js';
import { EXACT, runCases } from './support/cases.js';

runCases([
  {
    name: 'zeros, ones, full',
    inputs: () => ({}),
    tol: EXACT,
    ours: () => [T.zeros([2, 3]), T.ones([4], { dtype: 'int64' }), T.full([2, 2], 0.25, { dtype: 'float64' })],
    torch: '(torch.zeros(2, 3), torch.ones(4, dtype=torch.int64), torch.full((2, 2), 0.25, dtype=torch.float64))',
  },
  {
    name: 'arange is int64 for integers, float32 otherwise',
    inputs: () => ({}),
    tol: EXACT,
    ours: () => [T.arange(5), T.arange(2, 11, 3), T.arange(0, 1, 0.25)],
    torch: '(torch.arange(5), torch.arange(2, 11, 3), torch.arange(0, 1, 0.25))',
  },
  {
    name: 'eye',
    inputs: () => ({}),
    tol: EXACT,
    ours: () => [T.eye(3), T.eye(2, 4, { dtype: 'bool' })],
    torch: '(torch.eye(3), torch.eye(2, 4, dtype=torch.bool))',
  },
  {
    name: 'values from nested arrays',
    inputs: () => ({}),
    tol: EXACT,
    ours: () =>
      T.tensor([
        [1.5, -2],
        [3, 4.25],
      ]),
    torch: 'torch.tensor([[1.5, -2], [3, 4.25]])',
  },
]);

test('TypedArrays round-trip in every dtype', () => {
  const cases: [T.DType, ArrayBufferView][] = [
    ['float32', new Float32Array([1.5, -2, 3e-8])],
    ['float64', new Float64Array([Math.PI, -1e300])],
    ['int32', new Int32Array([-7, 2 ** 31 - 1])],
    ['int64', new BigInt64Array([-(2n ** 62n), 5n])],
    ['uint8', new Uint8Array([0, 255, 17])],
    ['bool', new Uint8Array([1, 0, 1])],
    ['bfloat16', new Uint16Array([0x3f80, 0xc000])],
    ['float16', new Uint16Array([0x3c00, 0xc000])],
  ];
  for (const [dtype, data] of cases) {
    const t = T.tensor(data, { dtype });
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.shape, [(data as Uint8Array).length]);
    assert.deepEqual(t.data(), data, dtype);
  }
});

test('16-bit floats convert to float32 through libtorch', () => {
  assert.deepEqual(
    T.tensor(new Uint16Array([0x3f80, 0xc000]), { dtype: 'bfloat16' }).toFloat32Array(),
    new Float32Array([1, -2]),
  );
  assert.deepEqual(
    T.tensor(new Uint16Array([0x3c00, 0x3800]), { dtype: 'float16' }).toFloat32Array(),
    new Float32Array([1, 0.5]),
  );
});

test('a TypedArray view is read from its offset, and the tensor owns a copy', () => {
  const backing = new Float32Array([9, 1, 2, 3, 4, 9]);
  const t = T.tensor(backing.subarray(1, 5), { shape: [2, 2] });
  backing[2] = 100;
  assert.deepEqual(t.data(), new Float32Array([1, 2, 3, 4]));
  const out = t.data<'float32'>();
  out[0] = -1;
  assert.equal(t.data()[0], 1);
});

test('strided and channels_last tensors export in row-major order', () => {
  const t = T.arange(24, undefined, 1, { dtype: 'float32' }).reshape([1, 2, 3, 4]);
  const cl = t.contiguous('channels_last');
  assert.equal(cl.isContiguous('channels_last'), true);
  assert.deepEqual(cl.strides, [24, 1, 8, 2]);
  assert.deepEqual(cl.data(), t.data());
  assert.deepEqual(t.transpose(2, 3).data().slice(0, 4), new Float32Array([0, 4, 8, 1]));
});

test('requiresGrad and device options', () => {
  const t = T.zeros([3], { requiresGrad: true });
  assert.equal(t.requiresGrad, true);
  assert.equal(t.isLeaf, true);
  assert.equal(t.device, 'cpu');
  assert.equal(T.tensor([1, 2], { requiresGrad: true }).requiresGrad, true);
  assert.equal(t.toString(), 'Tensor(shape=[3], dtype=float32, device=cpu, requiresGrad)');
});

test('item, numel, size and ndim', () => {
  const t = T.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(t.numel, 6);
  assert.equal(t.ndim, 2);
  assert.equal(t.size(-1), 3);
  assert.equal(t.sum().item(), 21);
  assert.equal(T.tensor(new BigInt64Array([7n])).item(), 7);
});

test("`using` frees a tensor, and a module's tensors, at the end of the block", () => {
  const before = T.liveTensors();
  {
    using x = T.ones([4, 4]);
    using y = x.mul(2);
    assert.equal(T.liveTensors(), before + 2);
    assert.equal(
      T.tidy(() => y.sum().item()),
      32,
    );
  }
  assert.equal(T.liveTensors(), before, 'both freed when the block ends');
  {
    using model = new Linear(3, 2);
    assert.equal(T.liveTensors(), before + 2);
    assert.equal(model.numParameters(), 8);
  }
  assert.equal(T.liveTensors(), before);
});
