// Seeded randomness: explicit generators give PyTorch's exact streams, states round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { EXACT, runCases } from './support/cases.js';

const gen = (seed: number) => `torch.Generator().manual_seed(${seed})`;

runCases([
  {
    name: 'rand with a generator',
    inputs: () => ({}),
    ours: () => T.rand([3, 5], { generator: new T.Generator(5) }),
    torch: `torch.rand(3, 5, generator=${gen(5)})`,
    tol: EXACT,
  },
  {
    name: 'randn with a generator',
    inputs: () => ({}),
    ours: () => T.randn([1000], { generator: new T.Generator(6) }),
    torch: `torch.randn(1000, generator=${gen(6)})`,
    tol: EXACT,
  },
  {
    name: 'randint with a generator',
    inputs: () => ({}),
    ours: () => T.randint(3, 40, [17], { generator: new T.Generator(7) }),
    torch: `torch.randint(3, 40, (17,), generator=${gen(7)})`,
    tol: EXACT,
  },
  {
    name: 'randperm with a generator',
    inputs: () => ({}),
    ours: () => T.randperm(50, { generator: new T.Generator(8) }),
    torch: `torch.randperm(50, generator=${gen(8)})`,
    tol: EXACT,
  },
  {
    name: 'bernoulli with a generator',
    inputs: (g) => ({ p: T.rand([64], { generator: g }) }),
    ours: ({ p }) => T.bernoulli(p!, { generator: new T.Generator(9) }),
    torch: `torch.bernoulli(p, generator=${gen(9)})`,
    tol: EXACT,
  },
  {
    name: 'uniform_ and normal_ in place',
    inputs: () => ({}),
    ours: () => {
      const g = new T.Generator(10);
      return [T.zeros([6]).uniform_(-2, 3, g), T.zeros([6]).normal_(1, 0.5, g)];
    },
    torch: `out = None\ng = ${gen(10)}\nout = (torch.zeros(6).uniform_(-2, 3, generator=g), torch.zeros(6).normal_(1, 0.5, generator=g))`,
    tol: EXACT,
  },
  {
    name: 'manualSeed seeds the default generator',
    seed: 42,
    inputs: () => ({}),
    ours: () => T.randn([8]),
    torch: 'torch.randn(8)',
    tol: EXACT,
  },
]);

test('a generator state saved and restored replays the same stream', () => {
  const g = new T.Generator(3);
  T.rand([10], { generator: g }).dispose();
  const state = g.getState();
  const first = T.rand([5], { generator: g }).data();
  T.randn([100], { generator: g }).dispose();
  g.setState(state);
  assert.deepEqual(T.rand([5], { generator: g }).data(), first);
  assert.equal(g.initialSeed, 3n);
});

test('random tensors made for another dtype keep the seed stream', () => {
  const a = T.rand([4], { generator: new T.Generator(1), dtype: 'float64' });
  assert.equal(a.dtype, 'float64');
  const values = a.data<'float64'>();
  assert.ok(values.every((v) => v >= 0 && v < 1));
});

test('the distributions have the right moments', () => {
  const g = new T.Generator(99);
  const n = 200_000;
  const u = T.rand([n], { generator: g });
  assert.ok(Math.abs(u.mean().item() - 0.5) < 0.005);
  const z = T.randn([n], { generator: g });
  assert.ok(Math.abs(z.mean().item()) < 0.01);
  assert.ok(Math.abs(z.std().item() - 1) < 0.01);
  const perm = T.randperm(1000, { generator: g }).data<'int64'>();
  assert.deepEqual(
    [...perm].map(Number).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});
