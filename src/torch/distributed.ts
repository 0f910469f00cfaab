// torch.distributed's engine (c10d) as libtorch ships it: a process group over a TCPStore
// rendezvous, with Gloo for CPU tensors and NCCL (or Gloo) for CUDA tensors, collectives that
// return once done, and DDP's Reducer, which averages gradients across the group in buckets while
// backward runs.
import { native, type Handle } from './native.js';
import type { Tensor } from './tensor.js';

/** An opaque native handle. */
type NativeHandle = object & { readonly __distributedHandle: unique symbol };

interface DistributedEngine {
  distributedBackends(): { gloo: boolean; nccl: string | null };
  groupNew(
    host: string,
    port: number,
    rank: number,
    worldSize: number,
    timeoutMs: number,
    cudaBackend: CudaBackend,
  ): NativeHandle;
  groupAllReduce(group: NativeHandle, tensors: Handle[], op: 'sum' | 'max'): void;
  groupBroadcast(group: NativeHandle, tensors: Handle[], root: number): void;
  groupBarrier(group: NativeHandle): void;
  groupClose(group: NativeHandle): void;
  reducerNew(
    group: NativeHandle,
    params: Handle[],
    bucketBytes: number,
    firstBucketBytes: number,
  ): { reducer: NativeHandle; buckets: number };
  reducerPrepare(reducer: NativeHandle, outputs: Handle[]): void;
}

const engine = native as unknown as DistributedEngine;
const handles = (tensors: readonly Tensor[]) => tensors.map((t) => t.handle);

/** What carries collectives of CUDA tensors: NCCL, or Gloo (through host copies; several ranks may share a GPU). */
export type CudaBackend = 'nccl' | 'gloo';

/** Where a process group meets and how long its members wait for one another. */
export interface GroupOptions {
  /** The address of rank 0, which serves the rendezvous store (MASTER_ADDR). */
  host: string;
  /** Its port (MASTER_PORT). */
  port: number;
  rank: number;
  worldSize: number;
  /** How long the rendezvous and each collective wait for the other ranks before they fail (default 60 s). */
  timeoutMs?: number;
  /** The backend of CUDA tensors (default: NCCL where this build has it, else Gloo). */
  cudaBackend?: CudaBackend;
}

/**
 * A group of processes that reduce and broadcast tensors together (c10d's ProcessGroup): Gloo
 * carries CPU tensors, `cudaBackend` CUDA tensors. Rank 0 serves the rendezvous on the address
 * `host` names, and listens there only (127.0.0.1: the loopback interface).
 */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly cudaBackend: CudaBackend;
  readonly #handle: NativeHandle;

  /** The backends this build of the engine has: Gloo, and NCCL's version in a CUDA build. */
  static backends(): { gloo: boolean; nccl: string | null } {
    return engine.distributedBackends();
  }

  /** NCCL where this build has it, else Gloo. */
  static defaultCudaBackend(): CudaBackend {
    return ProcessGroup.backends().nccl ? 'nccl' : 'gloo';
  }

  /** Whether this build of the engine has c10d with Gloo. */
  static available(): boolean {
    return ProcessGroup.backends().gloo;
  }

  /** Joins the group: returns once all `worldSize` ranks have joined, or throws after the timeout. */
  constructor(options: GroupOptions) {
    const backends = ProcessGroup.backends();
    if (!backends.gloo)
      throw new Error(
        "this build of the engine has no c10d with Gloo: the addon was built without Gloo's headers (Debian: libgloo-dev; scripts/setup.sh installs them)",
      );
    this.cudaBackend = options.cudaBackend ?? ProcessGroup.defaultCudaBackend();
    if (this.cudaBackend === 'nccl' && !backends.nccl)
      throw new Error('this build of the engine has no NCCL: it needs libtorch built with CUDA');
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.#handle = engine.groupNew(
      options.host,
      options.port,
      options.rank,
      options.worldSize,
      options.timeoutMs ?? 60_000,
      this.cudaBackend,
    );
  }

  /** Sums (or takes the maximum of) each tensor across the group, in place. */
  allReduce(tensors: readonly Tensor[], op: 'sum' | 'max' = 'sum'): void {
    engine.groupAllReduce(this.#handle, handles(tensors), op);
  }

  /** Overwrites each tensor with the root rank's, in place. */
  broadcast(tensors: readonly Tensor[], root = 0): void {
    engine.groupBroadcast(this.#handle, handles(tensors), root);
  }

  /** Returns once every rank has called it. */
  barrier(): void {
    engine.groupBarrier(this.#handle);
  }

  /** Leaves the group (its connections close; the group cannot be used again). */
  close(): void {
    engine.groupClose(this.#handle);
  }

  /** A reducer of `params`' gradients across this group. */
  reducer(params: readonly Tensor[], options: { bucketBytes?: number; firstBucketBytes?: number } = {}): Reducer {
    const { reducer, buckets } = engine.reducerNew(
      this.#handle,
      handles(params),
      options.bucketBytes ?? 25 * 2 ** 20,
      options.firstBucketBytes ?? 2 ** 20,
    );
    return new Reducer(reducer, buckets);
  }
}

/**
 * DDP's gradient reducer: armed before each backward, it all-reduces gradients bucket by bucket
 * as autograd produces them and leaves each parameter's .grad the mean across the group.
 */
export class Reducer {
  /** @internal */
  constructor(
    readonly handle: NativeHandle,
    readonly buckets: number,
  ) {}

  /** Arms the hooks for the backward of `outputs` (call after the forward pass, before backward). */
  prepare(outputs: readonly Tensor[]): void {
    engine.reducerPrepare(this.handle, handles(outputs));
  }
}
