// The data loader: per-epoch seeded shuffling, batches built in worker threads (or in the main
// thread with 0 workers) with prefetch, handed over as transferred buffers, then turned into
// engine tensors. A batch's content depends only on (seed, epoch, batch position), never on the
// number of workers.
import { Worker } from 'node:worker_threads';
import * as T from '../torch/index.js';
import { buildBatch, type BatchReply, type BatchRequest, type WorkerSetup } from './batch.js';
import { pipeline, SAMPLE, type Pipeline, type PipelineName, type PipelineSpec } from './pipelines.js';
import { epochOrder } from './rng.js';

/** Images (count x 3072 bytes, CHW) and their labels: what a loader reads. */
export interface Samples {
  images: Uint8Array;
  labels: Uint8Array | Int32Array;
  count: number;
}

/** What a Loader reads, how it transforms and batches it, and with how many threads. */
/** The most loader threads: each holds a copy of the data and its own buffers, and more than the cores only contend. */
export const maxWorkers = 32;

export interface LoaderOptions {
  /** A split (see source.ts) or any N x 3072 uint8 images (CHW) with labels. */
  data: Samples;
  /** The transform applied to each sample. */
  pipeline: PipelineName | PipelineSpec;
  /** Samples per batch (the last batch may be smaller). */
  batchSize: number;
  /** Shuffle each epoch (default: for train pipelines). */
  shuffle?: boolean;
  /** Seeds shuffling and random transforms (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false: keep it). */
  dropLast?: boolean;
  /** Worker threads; 0 builds batches in the main thread. */
  workers?: number;
  /** Batches in flight per worker (default 2). */
  prefetch?: number;
  /** 'nchw' (default) or 'channels_last': NCHW-shaped tensors with NHWC memory. */
  layout?: 'nchw' | 'channels_last';
  /** This process's share of every epoch in data-parallel training (default: all of it). */
  shard?: Shard;
}

/**
 * One rank's share of an epoch, as torch's DistributedSampler deals it: the epoch's order padded
 * (with its first samples) to a multiple of `count` when `pad`, then every count-th sample from
 * `rank`. Batch b of every rank together is then batch b of one process with count times the batch.
 */
export interface Shard {
  rank: number;
  count: number;
  pad: boolean;
}

/** How many of n samples a shard takes. */
function shardSize(n: number, shard: Shard | null): number {
  if (!shard) return n;
  return shard.pad ? Math.ceil(n / shard.count) : Math.max(0, Math.ceil((n - shard.rank) / shard.count));
}

/** The samples of `order` that a shard takes. */
export function shardOrder(order: Int32Array, shard: Shard | null): Int32Array {
  if (!shard) return order;
  const n = order.length;
  return Int32Array.from({ length: shardSize(n, shard) }, (_, i) => order[(shard.rank + i * shard.count) % n]!);
}

/** A batch as plain arrays, before it becomes tensors. */
export interface RawBatch {
  /** size x 3 x 32 x 32 floats (or size x 32 x 32 x 3 for channels_last). */
  x: Float32Array;
  /** Class indices. */
  labels: Int32Array;
  /** Dataset indices of the samples. */
  indices: Int32Array;
  /** Number of samples. */
  size: number;
}

/** A batch as engine tensors: x float32 [size, 3, 32, 32], y int64 [size]. */
export interface Batch {
  x: T.Tensor;
  y: T.Tensor;
  size: number;
}

interface Pending {
  resolve(buffer: ArrayBuffer): void;
  reject(e: Error): void;
  worker: number;
}

/** Batches of a split, shuffled per epoch and transformed in worker threads; each depends only on (seed, epoch, position). */
export class Loader {
  /** The options with their defaults filled in. */
  readonly options: Required<Omit<LoaderOptions, 'pipeline' | 'shard'>> & {
    pipeline: PipelineSpec;
    shard: Shard | null;
  };
  readonly #pipe: Pipeline;
  #workers: Worker[] = [];
  #outstanding: number[] = [];
  #pending = new Map<number, Pending>();
  #spare: ArrayBuffer[] = [];
  #nextId = 0;
  #failure: Error | null = null;
  #closed = false;

  constructor(options: LoaderOptions) {
    const spec = typeof options.pipeline === 'string' ? { name: options.pipeline } : options.pipeline;
    this.#pipe = pipeline(spec);
    this.options = {
      data: options.data,
      pipeline: spec,
      batchSize: options.batchSize,
      shuffle: options.shuffle ?? this.#pipe.random,
      seed: options.seed ?? 0,
      dropLast: options.dropLast ?? false,
      workers: options.workers ?? 0,
      prefetch: options.prefetch ?? 2,
      layout: options.layout ?? 'nchw',
      shard: options.shard ?? null,
    };
    const o = this.options;
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new RangeError(`Loader: batchSize must be a positive integer, not ${o.batchSize}`);
    if (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > maxWorkers)
      throw new RangeError(`Loader: workers must be an integer in 0..${maxWorkers}, not ${o.workers}`);
    if (!Number.isInteger(o.prefetch) || o.prefetch < 1)
      throw new RangeError(`Loader: prefetch must be a positive integer, not ${o.prefetch}`);
    if (
      o.shard &&
      !(
        Number.isInteger(o.shard.count) &&
        o.shard.count >= 1 &&
        Number.isInteger(o.shard.rank) &&
        o.shard.rank >= 0 &&
        o.shard.rank < o.shard.count
      )
    ) {
      throw new RangeError(`Loader: shard ${o.shard.rank} of ${o.shard.count} is not a rank of the group`);
    }
    if (o.data.images.length !== o.data.count * SAMPLE || o.data.labels.length !== o.data.count)
      throw new RangeError(
        `Loader: ${o.data.count} samples need ${o.data.count * SAMPLE} image bytes and ${o.data.count} labels`,
      );
  }

  /** Batches in one epoch. */
  get length(): number {
    const count = this.samples;
    return this.options.dropLast
      ? Math.floor(count / this.options.batchSize)
      : Math.ceil(count / this.options.batchSize);
  }

  /** Samples in one epoch (this shard's). */
  get samples(): number {
    return shardSize(this.options.data.count, this.options.shard);
  }

  /** The epoch's batches as engine tensors: x float32 [n, 3, 32, 32], y int64 [n]. The caller disposes them. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    for await (const b of this.raw(epoch)) {
      const cl = this.options.layout === 'channels_last';
      const base = T.tensor(b.x, { shape: cl ? [b.size, 32, 32, 3] : [b.size, 3, 32, 32] });
      // T.tensor copied the floats: the buffer can go back to a worker.
      this.#spare.push(b.x.buffer as ArrayBuffer);
      let x = base;
      if (cl) {
        x = base.permute([0, 3, 1, 2]);
        base.dispose();
      }
      const y = T.tensor(
        BigInt64Array.from(b.labels, (l) => BigInt(l)),
        { shape: [b.size] },
      );
      yield { x, y, size: b.size };
    }
  }

  /** The epoch's batches as plain arrays (no engine involved). */
  async *raw(epoch: number): AsyncGenerator<RawBatch> {
    if (this.#closed) throw new Error('Loader: used after close()');
    const { data, batchSize, seed, shuffle, workers, prefetch } = this.options;
    const order = shardOrder(epochOrder(data.count, seed, epoch, shuffle), this.options.shard);
    const n = this.length;
    const slice = (b: number) => order.subarray(b * batchSize, Math.min((b + 1) * batchSize, order.length));
    const labelsOf = (indices: Int32Array) => Int32Array.from(indices, (i) => data.labels[i]!);
    const channelsLast = this.options.layout === 'channels_last';
    if (workers === 0) {
      for (let b = 0; b < n; b++) {
        const indices = slice(b);
        const x = buildBatch(data.images, indices, this.#pipe, seed, epoch, channelsLast, this.#take(indices.length));
        yield { x, labels: labelsOf(indices), indices, size: indices.length };
      }
      return;
    }
    this.#start();
    const inFlight = new Map<number, Promise<ArrayBuffer>>();
    let next = 0;
    try {
      for (let b = 0; b < n; b++) {
        while (next < n && next < b + workers * prefetch) {
          inFlight.set(next, this.#request(next % workers, epoch, slice(next), channelsLast));
          next++;
        }
        const buffer = await inFlight.get(b)!;
        inFlight.delete(b);
        const indices = slice(b);
        yield { x: new Float32Array(buffer), labels: labelsOf(indices), indices, size: indices.length };
      }
    } finally {
      // An abandoned epoch: let its remaining batches arrive and keep their buffers.
      for (const p of inFlight.values())
        p.then(
          (buf) => this.#spare.push(buf),
          () => undefined,
        );
    }
  }

  /** `for await (const b of loader)` iterates epoch 0. */
  [Symbol.asyncIterator](): AsyncGenerator<Batch> {
    return this.epoch(0);
  }

  /** Stops the workers; the loader cannot be used afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    const ws = this.#workers.splice(0);
    this.#fail(new Error('Loader: closed'));
    await Promise.all(ws.map((w) => w.terminate()));
  }

  #take(samples: number): Float32Array {
    const bytes = samples * SAMPLE * 4;
    const i = this.#spare.findIndex((b) => b.byteLength === bytes);
    return i >= 0 ? new Float32Array(this.#spare.splice(i, 1)[0]!) : new Float32Array(samples * SAMPLE);
  }

  #start(): void {
    if (this.#workers.length > 0) return;
    const { data, workers, seed, pipeline: spec } = this.options;
    let images = data.images;
    if (!(images.buffer instanceof SharedArrayBuffer)) {
      // One copy into shared memory, read by every worker.
      const shared = new Uint8Array(new SharedArrayBuffer(images.length));
      shared.set(images);
      images = shared;
    }
    const setup: WorkerSetup = { images, pipeline: spec, seed };
    for (let i = 0; i < workers; i++) {
      const w = new Worker(new URL('./loader-worker.js', import.meta.url), { workerData: setup });
      w.unref();
      w.on('message', (m: BatchReply) => this.#reply(i, m));
      w.on('error', (e) => this.#fail(new Error(`Loader: worker ${i} failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.#closed) this.#fail(new Error(`Loader: worker ${i} exited (${code})`));
      });
      this.#workers.push(w);
      this.#outstanding.push(0);
    }
  }

  #request(worker: number, epoch: number, indices: Int32Array, channelsLast: boolean): Promise<ArrayBuffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const w = this.#workers[worker]!;
    const promise = new Promise<ArrayBuffer>((resolve, reject) => this.#pending.set(id, { resolve, reject, worker }));
    const bytes = indices.length * SAMPLE * 4;
    const i = this.#spare.findIndex((b) => b.byteLength === bytes);
    const buffer = i >= 0 ? this.#spare.splice(i, 1)[0] : undefined;
    const request: BatchRequest = { id, epoch, indices, channelsLast, ...(buffer ? { buffer } : {}) };
    // While a worker owes a batch it keeps the process alive; idle workers do not.
    if (this.#outstanding[worker]!++ === 0) w.ref();
    w.postMessage(request, buffer ? [buffer] : []);
    return promise;
  }

  #reply(worker: number, m: BatchReply): void {
    if (--this.#outstanding[worker]! === 0) this.#workers[worker]?.unref();
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if ('error' in m) p.reject(new Error(`Loader: worker ${worker}: ${m.error}`));
    else p.resolve(m.buffer);
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}
