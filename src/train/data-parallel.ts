// Data-parallel training over a c10d process group, with PyTorch DDP's conventions: every rank
// starts from rank 0's state, trains on its shard of each epoch with per-replica BatchNorm batch
// statistics, has its gradients averaged by DDP's Reducer during backward, and takes rank 0's
// running statistics before each forward (broadcast_buffers). Pruning needs no messages: the
// weights are equal on every rank, so every rank prunes the same weights.
import { connect } from 'node:net';
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { Shard } from '../data/index.js';
import type { Optimizer } from '../optim/index.js';

/** This process's place in a data-parallel run. */
export interface World {
  group: T.ProcessGroup;
  rank: number;
  size: number;
}

/** The torchrun environment of a worker, or null for a process on its own. */
export interface WorldEnv {
  host: string;
  port: number;
  rank: number;
  size: number;
  localRank: number;
}

/** The most processes a run may have: far beyond what a CIFAR model can use, and a bound on the rendezvous. */
export const maxWorldSize = 1024;

/**
 * Waits until the master's rendezvous port accepts connections, for at most timeoutMs; a rank
 * other than 0 calls it before joining, so that an absent master is reported within the timeout
 * (the store's own client retries for up to twice as long).
 */
export async function waitForMaster(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port, timeout: Math.max(1, deadline - Date.now()) });
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.once('timeout', () => done(false));
    });
    if (ok) return;
    if (Date.now() >= deadline)
      throw new Error(
        `no rendezvous at MASTER_ADDR=${host} MASTER_PORT=${port} after ${Math.round(timeoutMs / 1000)} s: rank 0 has not started, or listens elsewhere`,
      );
    await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
  }
}

/** Reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK; null when WORLD_SIZE is absent. */
export function worldFromEnv(env: NodeJS.ProcessEnv = process.env): WorldEnv | null {
  if (env.WORLD_SIZE === undefined) return null;
  const int = (name: string, min: number, max: number): number => {
    const raw = env[name];
    const v = Number(raw);
    if (raw === undefined || raw === '' || !Number.isInteger(v) || v < min || v > max) {
      throw new Error(`the environment's ${name}=${raw ?? '(unset)'} must be an integer in ${min}..${max}`);
    }
    return v;
  };
  const size = int('WORLD_SIZE', 1, maxWorldSize);
  const rank = int('RANK', 0, size - 1);
  return {
    host: env.MASTER_ADDR || '127.0.0.1',
    port: int('MASTER_PORT', 1, 65535),
    rank,
    size,
    localRank: env.LOCAL_RANK === undefined ? rank : int('LOCAL_RANK', 0, size - 1),
  };
}

/** The model's buffers a step changes (BatchNorm statistics, observer ranges); masks change only at pruning, equally everywhere. */
const movingBuffers = (model: Module) =>
  model
    .namedBuffers()
    .filter(([name]) => !name.endsWith('.mask'))
    .map(([, t]) => t);

/** What one rank does to take part in a run; with no world, nothing. */
export class Replicas {
  #reducer: T.Reducer | null = null;

  constructor(readonly world: World | null) {}

  /** Whether this process writes the run's files and prints its progress (rank 0). */
  get main(): boolean {
    return !this.world || this.world.rank === 0;
  }

  get size(): number {
    return this.world?.size ?? 1;
  }

  /** This rank's share of an epoch: training shards pad to equal sizes, evaluation shards do not. */
  shard(pad: boolean): Shard | undefined {
    return this.world ? { rank: this.world.rank, count: this.world.size, pad } : undefined;
  }

  /** Rank 0's parameters, buffers (masks included) and optimizer state, on every rank (which all hold the same state names). */
  syncState(model: Module, optimizer: Optimizer): void {
    if (!this.world) return;
    const state = [...optimizer.state().values()];
    T.noGrad(() =>
      this.world!.group.broadcast([...model.parameters(), ...model.namedBuffers().map(([, t]) => t), ...state], 0),
    );
  }

  /** Gradients of the model's current parameters are averaged from here on (again after they change, e.g. by folding). */
  attach(model: Module): void {
    if (this.world) this.#reducer = this.world.group.reducer(model.parameters());
  }

  /** Before a forward pass: rank 0's running statistics. */
  syncBuffers(model: Module): void {
    if (this.world) T.noGrad(() => this.world!.group.broadcast(movingBuffers(model), 0));
  }

  /** Whether a step's collectives can be captured into a CUDA graph (NCCL's can, Gloo's wait on the host). */
  get capturable(): boolean {
    return this.world?.group.cudaBackend === 'nccl';
  }

  /** Arms the gradient averaging for the backward of `loss`. */
  beforeBackward(loss: T.Tensor): void {
    this.#reducer?.prepare([loss]);
  }

  /** Whether any rank wants to stop: all stop at the same step. */
  anyStop(local: boolean): boolean {
    if (!this.world) return local;
    return T.tidy(() => {
      const flag = T.tensor(new Float64Array([local ? 1 : 0]), { shape: [1] });
      this.world!.group.allReduce([flag], 'max');
      return flag.item() > 0;
    });
  }

  /** Sums of numbers across the ranks (exact for counts: float64). */
  sum(values: number[]): number[] {
    if (!this.world) return values;
    return T.tidy(() => {
      const t = T.tensor(Float64Array.from(values), { shape: [values.length] });
      this.world!.group.allReduce([t], 'sum');
      return Array.from(t.data() as Float64Array);
    });
  }
}
