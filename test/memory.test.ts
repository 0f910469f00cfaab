// Lifetimes: dispose, tidy scopes, the GC safety net, and a long training loop that stays flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as T from '../src/torch/index.js';

const { F } = T;

test('tidy frees what it created except what it returns', () => {
  const before = T.liveTensors();
  const outer = T.ones([2]);
  const result = T.tidy(() => {
    const a = outer.add(1);
    const b = a.mul(2);
    return { b, list: [a.sub(1)], n: 3 };
  });
  assert.equal(T.liveTensors(), before + 3);
  assert.deepEqual(result.b.data(), new Float32Array([4, 4]));
  assert.equal(outer.isDisposed, false);
  for (const t of [outer, result.b, result.list[0]!]) t.dispose();
  assert.equal(T.liveTensors(), before);
});

test('nested scopes hand returned tensors to the enclosing scope', () => {
  const before = T.liveTensors();
  T.tidy(() => {
    const inner = T.tidy(() => T.ones([3]).mul(5));
    assert.equal(inner.isDisposed, false);
    assert.equal(T.scopeDepth(), 1);
  });
  assert.equal(T.liveTensors(), before);
  assert.equal(T.scopeDepth(), 0);
});

test('keep() lets a tensor outlive its scope; a throw frees the rest', () => {
  const before = T.liveTensors();
  let kept: T.Tensor | undefined;
  assert.throws(
    () =>
      T.tidy(() => {
        kept = T.keep(T.zeros([4]));
        T.ones([4]);
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.equal(kept!.isDisposed, false);
  assert.equal(T.liveTensors(), before + 1);
  kept!.dispose();
  assert.equal(T.liveTensors(), before);
});

test('tidy refuses async functions', () => {
  const before = T.liveTensors();
  assert.throws(() => T.tidy(async () => T.ones([1])), /synchronous/);
  assert.equal(T.liveTensors(), before);
});

test('tensors dropped without dispose are freed by the garbage collector', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const before = T.liveTensors();
  (() => {
    for (let i = 0; i < 200; i++) T.ones([1000]);
  })();
  assert.ok(T.liveTensors() >= before + 200);
  for (let i = 0; i < 10 && T.liveTensors() > before; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(T.liveTensors(), before);
});

test('10,000 training steps of a small conv net keep live tensors and RSS flat', () => {
  const g = new T.Generator(0);
  const params = {
    convW: T.keep(T.randn([8, 3, 3, 3], { generator: g }).mul_(0.2).requiresGrad_()),
    convB: T.keep(T.zeros([8], { requiresGrad: true })),
    bnW: T.keep(T.ones([8], { requiresGrad: true })),
    bnB: T.keep(T.zeros([8], { requiresGrad: true })),
    fcW: T.keep(T.randn([4, 8], { generator: g }).mul_(0.3).requiresGrad_()),
    fcB: T.keep(T.zeros([4], { requiresGrad: true })),
  };
  const runningMean = T.keep(T.zeros([8]));
  const runningVar = T.keep(T.ones([8]));
  const momentum = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, T.keep(T.zerosLike(p))]));
  // A learnable task: the class is which colour channel is brightest.
  const x = T.keep(T.randn([16, 3, 8, 8], { generator: g }));
  const y = T.keep(T.tidy(() => x.mean([2, 3]).argmax(1)));

  const step = (): number =>
    T.tidy(() => {
      const h = F.relu(
        F.batchNorm(F.conv2d(x, params.convW, params.convB, { padding: 1 }), runningMean, runningVar, {
          weight: params.bnW,
          bias: params.bnB,
          training: true,
        }),
      );
      const logits = F.linear(F.adaptiveAvgPool2d(F.maxPool2d(h, 2), 1).flatten(1), params.fcW, params.fcB);
      const loss = F.crossEntropy(logits, y, { labelSmoothing: 0.1 });
      loss.backward();
      T.noGrad(() => {
        for (const [k, p] of Object.entries(params)) {
          const grad = p.grad!;
          momentum[k]!.mul_(0.9).add_(grad);
          p.sub_(momentum[k]!, 0.05);
          p.grad = null;
        }
      });
      return loss.item();
    });

  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Memory outside V8's heap after a full collection: JS garbage and V8's own heap sizing are not leaks.
  const settledRss = () => {
    gc();
    const m = process.memoryUsage();
    return m.rss - m.heapTotal;
  };
  const first = step();
  let live = 0;
  let rssAt2000 = 0;
  let last = first;
  for (let i = 1; i < 10_000; i++) {
    last = step();
    if (i === 100) live = T.liveTensors();
    if (i > 100 && i % 500 === 0) assert.equal(T.liveTensors(), live, `live tensors at step ${i}`);
    if (i === 2000) rssAt2000 = settledRss();
  }
  // Flat: less than 1 KiB per step over these 8,000 steps (tensor leaks are caught exactly above).
  const growth = settledRss() - rssAt2000;
  assert.ok(
    growth < 8 * 2 ** 20,
    `RSS outside the JS heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over 8,000 steps`,
  );
  assert.ok(last < first * 0.5, `the net learns: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
});
