// The loader: seeded, reproducible batches that do not depend on the number of workers, partial
// batches kept or dropped, NCHW and channels_last tensors, clean shutdown, data-parallel shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { spawnSync } from 'node:child_process';
import { Loader, shardOrder, syntheticSplit, type RawBatch, type Samples } from '../src/data/index.js';
import { torchPython } from '../src/bench/python-process.js';

const split = syntheticSplit('cifar100', 300, 1, 'train');
const data: Samples = { images: split.images, labels: split.fine, count: 300 };

async function collect(loader: Loader, epoch: number): Promise<RawBatch[]> {
  const out: RawBatch[] = [];
  // raw() hands out its buffers: copy so later batches cannot alias earlier ones
  for await (const b of loader.raw(epoch)) out.push({ ...b, x: b.x.slice() });
  return out;
}

test('batches are identical for 0, 1 and 3 workers, for both train pipelines', async () => {
  for (const pipeline of ['micronet-seed/train', 'id56-notebook/train'] as const) {
    const runs: RawBatch[][] = [];
    for (const workers of [0, 1, 3]) {
      const loader = new Loader({ data, pipeline, batchSize: 64, seed: 5, workers });
      try {
        runs.push(await collect(loader, 2));
      } finally {
        await loader.close();
      }
    }
    assert.equal(runs[0]!.length, 5);
    for (const r of runs.slice(1)) {
      assert.equal(r.length, runs[0]!.length);
      r.forEach((b, i) => {
        assert.deepEqual(b.indices, runs[0]![i]!.indices, `${pipeline} batch ${i} indices`);
        assert.deepEqual(b.x, runs[0]![i]!.x, `${pipeline} batch ${i} images`);
        assert.deepEqual(b.labels, runs[0]![i]!.labels, `${pipeline} batch ${i} labels`);
      });
    }
  }
});

test('the same seed gives the same epoch; another epoch or seed gives another order and other augmentations', async () => {
  const make = (seed: number) => new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 100, seed });
  const a = await collect(make(1), 0);
  assert.deepEqual(await collect(make(1), 0), a);
  const nextEpoch = await collect(make(1), 1);
  assert.notDeepEqual(nextEpoch[0]!.indices, a[0]!.indices);
  assert.notDeepEqual((await collect(make(2), 0))[0]!.indices, a[0]!.indices);
  // sample 0 is augmented differently in the next epoch
  const sample0 = (bs: RawBatch[]) => {
    for (const b of bs) {
      const i = b.indices.indexOf(0);
      if (i >= 0) return b.x.slice(i * 3072, (i + 1) * 3072);
    }
    throw new Error('no sample 0');
  };
  assert.notDeepEqual(sample0(nextEpoch), sample0(a));
  // every sample appears once per epoch, with its own label
  const seen = a.flatMap((b) => [...b.indices]).sort((x, y) => x - y);
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, i) => i),
  );
  for (const b of a) b.indices.forEach((idx, i) => assert.equal(b.labels[i], split.fine[idx]));
});

test('the last partial batch is kept by default and dropped with dropLast', async () => {
  const kept = new Loader({ data, pipeline: 'micronet-seed/test', batchSize: 128 });
  assert.equal(kept.length, 3);
  assert.deepEqual(
    (await collect(kept, 0)).map((b) => b.size),
    [128, 128, 44],
  );
  const dropped = new Loader({ data, pipeline: 'micronet-seed/test', batchSize: 128, dropLast: true, workers: 2 });
  try {
    assert.equal(dropped.length, 2);
    assert.deepEqual(
      (await collect(dropped, 0)).map((b) => b.size),
      [128, 128],
    );
  } finally {
    await dropped.close();
  }
});

test('test pipelines keep the data order and are deterministic', async () => {
  const loader = new Loader({ data, pipeline: 'id56-notebook/test', batchSize: 50 });
  const [first] = await collect(loader, 0);
  assert.deepEqual(
    [...first!.indices],
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual((await collect(loader, 7))[0]!.x, first!.x);
});

test('tensors: float32 [n, 3, 32, 32] in NCHW or channels_last memory, int64 labels', async () => {
  const live = T.liveTensors();
  const results: Float32Array[] = [];
  for (const layout of ['nchw', 'channels_last'] as const) {
    const loader = new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 128, seed: 3, layout, workers: 1 });
    try {
      let n = 0;
      for await (const { x, y, size } of loader.epoch(0)) {
        assert.deepEqual(x.shape, [size, 3, 32, 32]);
        assert.equal(x.dtype, 'float32');
        assert.equal(x.isContiguous(layout === 'nchw' ? 'contiguous' : 'channels_last'), true);
        assert.deepEqual(y.shape, [size]);
        assert.equal(y.dtype, 'int64');
        if (n === 0) {
          const c = x.contiguous();
          results.push(c.data<'float32'>().slice());
          c.dispose();
        }
        n += size;
        x.dispose();
        y.dispose();
      }
      assert.equal(n, 300);
    } finally {
      await loader.close();
    }
  }
  assert.deepEqual(results[1], results[0], 'same values whatever the memory layout');
  assert.equal(T.liveTensors(), live, 'every batch tensor was freed');
});

test('an abandoned epoch does not disturb the next one, and close() stops the workers', async () => {
  const loader = new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 32, seed: 4, workers: 2, prefetch: 3 });
  for await (const b of loader.raw(0)) {
    assert.equal(b.size, 32);
    break;
  }
  const again = await collect(loader, 0);
  const reference = await collect(new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 32, seed: 4 }), 0);
  assert.deepEqual(
    again.map((b) => b.x),
    reference.map((b) => b.x),
  );
  await loader.close();
  await assert.rejects(async () => {
    for await (const _ of loader.raw(1)) break;
  }, /used after close/);
});

test('bad options are refused', () => {
  assert.throws(() => new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 0 }), /batchSize/);
  assert.throws(() => new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 8, workers: -1 }), /workers/);
  assert.throws(
    () => new Loader({ data: { ...data, count: 301 }, pipeline: 'micronet-seed/train', batchSize: 8 }),
    /301 samples/,
  );
  assert.throws(
    () => new Loader({ data, pipeline: 'nope' as 'micronet-seed/train', batchSize: 8 }),
    /unknown pipeline 'nope'/,
  );
});

test("shards deal an epoch as torch's DistributedSampler does, and together hold the whole batches of one process", async () => {
  for (const [n, replicas] of [
    [10, 3],
    [12, 4],
    [7, 2],
    [5, 8],
  ] as const) {
    const python = spawnSync(
      torchPython,
      [
        '-c',
        `import json, torch.utils.data as d
print(json.dumps([list(d.DistributedSampler(range(${n}), num_replicas=${replicas}, rank=r, shuffle=False)) for r in range(${replicas})]))`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(python.status, 0, python.stderr);
    const identity = Int32Array.from({ length: n }, (_, i) => i);
    const ours = Array.from({ length: replicas }, (_, rank) => [
      ...shardOrder(identity, { rank, count: replicas, pad: true }),
    ]);
    assert.deepEqual(ours, JSON.parse(python.stdout), `${n} samples over ${replicas} replicas`);
  }
  // Batch b of every shard together is batch b of one loader with the whole batch.
  const whole = await collect(new Loader({ data, pipeline: 'micronet-seed/train', batchSize: 60, seed: 5 }), 3);
  const shards = await Promise.all(
    [0, 1, 2].map((rank) =>
      collect(
        new Loader({
          data,
          pipeline: 'micronet-seed/train',
          batchSize: 20,
          seed: 5,
          shard: { rank, count: 3, pad: true },
        }),
        3,
      ),
    ),
  );
  assert.equal(shards[0]!.length, whole.length);
  whole.forEach((b, i) => {
    assert.deepEqual(
      shards.flatMap((s) => [...s[i]!.indices]).sort((p, q) => p - q),
      [...b.indices].sort((p, q) => p - q),
      `batch ${i}`,
    );
    // The same sample gets the same augmentation in either: transforms draw from (seed, epoch, index).
    const first = shards[0]![i]!;
    const at = [...b.indices].indexOf(first.indices[0]!);
    assert.deepEqual(first.x.subarray(0, 3072), b.x.subarray(at * 3072, (at + 1) * 3072));
  });
});
