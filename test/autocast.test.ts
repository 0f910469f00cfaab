// bfloat16 autocast on the CPU against torch.autocast: which ops drop precision, values, gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { runCases } from './support/cases.js';

const { F } = T;
const randn = (g: T.Generator, shape: number[]) => T.randn(shape, { generator: g });
// Same bf16 kernels on both sides; the slack covers accumulation order at bf16's 8-bit mantissa.
const BF16 = { rtol: 1e-2, atol: 1e-2 };
const inAutocast = (expr: string) => `with torch.autocast("cpu", dtype=torch.bfloat16):\n    out = ${expr}`;

runCases([
  {
    name: 'conv2d under autocast computes in bfloat16',
    inputs: (g) => ({ x: randn(g, [2, 8, 8, 8]), w: randn(g, [16, 8, 3, 3]), b: randn(g, [16]) }),
    grad: ['x', 'w', 'b'],
    tol: BF16,
    ours: ({ x, w, b }) => T.autocast({ dtype: 'bfloat16' }, () => F.conv2d(x!, w!, b!, { padding: 1 })),
    torch: inAutocast('F.conv2d(x, w, b, padding=1)'),
  },
  {
    name: 'linear under autocast computes in bfloat16',
    inputs: (g) => ({ x: randn(g, [4, 32]), w: randn(g, [10, 32]), b: randn(g, [10]) }),
    grad: ['x', 'w', 'b'],
    tol: BF16,
    ours: ({ x, w, b }) => T.autocast({}, () => F.linear(x!, w!, b!)),
    torch: inAutocast('F.linear(x, w, b)'),
  },
  {
    name: 'conv, batch norm, relu, pool, linear and loss under autocast',
    tol: BF16,
    inputs: (g) => ({
      x: randn(g, [4, 3, 8, 8]),
      w: randn(g, [8, 3, 3, 3]),
      rm: T.zeros([8]),
      rv: T.ones([8]),
      lw: randn(g, [5, 8]),
      t: T.randint(0, 5, [4], { generator: g }),
    }),
    grad: ['x', 'w', 'lw'],
    ours: ({ x, w, rm, rv, lw, t }) =>
      T.autocast({}, () => {
        const h = F.relu(F.batchNorm(F.conv2d(x!, w!, null, { padding: 1 }), rm!, rv!, { training: true }));
        const logits = F.linear(F.adaptiveAvgPool2d(F.maxPool2d(h, 2), 1).flatten(1), lw!);
        return [F.crossEntropy(logits, t!, { labelSmoothing: 0.1 }), logits];
      }),
    torch:
      'with torch.autocast("cpu", dtype=torch.bfloat16):\n' +
      '    h = F.relu(F.batch_norm(F.conv2d(x, w, None, padding=1), rm, rv, training=True))\n' +
      '    logits = F.linear(F.adaptive_avg_pool2d(F.max_pool2d(h, 2), 1).flatten(1), lw)\n' +
      '    out = (F.cross_entropy(logits, t, label_smoothing=0.1), logits)',
  },
]);

test('autocast is scoped: state restored on exit and on throw, nesting works', () => {
  const x = T.randn([2, 4]);
  const w = T.randn([3, 4]);
  assert.equal(T.isAutocastEnabled(), false);
  const inner = T.autocast({}, () => {
    assert.equal(T.isAutocastEnabled(), true);
    const off = T.autocast({ enabled: false }, () => F.linear(x, w));
    assert.equal(off.dtype, 'float32');
    assert.equal(T.isAutocastEnabled(), true);
    return F.linear(x, w);
  });
  assert.equal(inner.dtype, 'bfloat16');
  assert.throws(
    () =>
      T.autocast({}, () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(T.isAutocastEnabled(), false);
  assert.equal(F.linear(x, w).dtype, 'float32');
});

test('autocast refuses float16 on the CPU', () => {
  assert.throws(() => T.autocast({ dtype: 'float16' }, () => 0), /bfloat16 only/);
});
