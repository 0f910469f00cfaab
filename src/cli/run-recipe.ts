// Running a recipe from the command line: in this process, as a worker of a data-parallel run, or
// as the launcher of N workers; Ctrl-C and SIGTERM save the position; the end prints the summary.
import { existsSync } from 'node:fs';
import * as T from '../torch/index.js';
import { loadModelCheckpoint } from '../checkpoint/model-file.js';
import type { Module } from '../nn/index.js';
import type { Recipe } from '../recipes/index.js';
import { bestEpoch, formatSummary, summariseRun } from '../report/summary.js';
import { top1Bar } from '../score/index.js';
import { readTrainState } from '../checkpoint/train-file.js';
import type { EpochMetrics } from '../checkpoint/metrics.js';
import { bestCheckpoint, lastCheckpoint, metricsFile } from '../checkpoint/run-dir.js';
import { RunFinishedError, train, type TrainEvents } from '../train/trainer.js';
import { maxWorldSize, waitForMaster, worldFromEnv, type World } from '../train/data-parallel.js';
import { launchWorkers } from './launch.js';
import { UsageError } from './args.js';
import { progressReporter } from './progress.js';
import { stopOnSignal } from './signals.js';
import { busyHint, useThreads } from './options.js';

/** How a recipe runs from the command line. */
export interface RunOptions {
  dataDir: string;
  outDir: string;
  device: T.Device;
  /** Continue the run saved in outDir. */
  resume: boolean;
  /** Data-parallel: seconds a rank waits for the others. */
  timeout?: number;
  backend?: T.CudaBackend;
  /** --threads (undefined: OMP_NUM_THREADS, else one per core). */
  threads?: number;
  /** Print the end as one JSON object instead of lines. */
  json?: boolean;
  /** Without a terminal: a progress line every this many steps (default: every 30 s). */
  logInterval?: number;
}

/** The files a run leaves, as the end of a run names them. */
function runFiles(outDir: string, quantized?: string | null) {
  return {
    last: lastCheckpoint(outDir),
    best: bestCheckpoint(outDir),
    metrics: metricsFile(outDir),
    ...(quantized ? { quantized } : {}),
  };
}

/** What the end of a run prints: the summary the report leads with and where the files are, as lines or one JSON object. */
function printEnd(
  model: Module,
  history: EpochMetrics[],
  recipe: Recipe,
  o: RunOptions,
  end: { count?: number; quantized?: string | null },
): void {
  const { data } = readTrainState(lastCheckpoint(o.outDir));
  const s = summariseRun(model, history.at(-1)!, {
    epochs: recipe.epochs,
    data: data ?? null,
    best: bestEpoch(o.outDir),
    ...(end.count === undefined ? {} : { count: end.count }),
  });
  const files = runFiles(o.outDir, end.quantized);
  if (o.json) {
    const scores = s.scores.map(({ rules, bitWidth, params, ops, score }) => ({ rules, bitWidth, params, ops, score }));
    const best = s.best && { epoch: s.best.epoch, top1: s.best.top1, sparsity: s.best.sparsity };
    console.log(
      JSON.stringify({ run: o.outDir, recipe: recipe.name, ...s, scores, best, clearsBar: s.top1 >= top1Bar, files }),
    );
    return;
  }
  const lines = formatSummary(s);
  lines.push(
    `checkpoints: ${files.last} and ${files.best}; metrics: ${files.metrics}; report: micronet report ${o.outDir}`,
  );
  if (files.quantized) lines.push(`quantized checkpoint (integer weights, for eval and score): ${files.quantized}`);
  console.log(lines.join('\n'));
}

export async function runRecipe(recipe: Recipe, o: RunOptions): Promise<void> {
  const threads = useThreads(o.threads);
  const hint = busyHint(threads, o.threads !== undefined || !!process.env.OMP_NUM_THREADS);
  if (hint && !worldFromEnv()) process.stderr.write(`${hint}\n`);
  const signals = stopOnSignal();
  // A worker of a launcher that is gone (killed) saves and stops like one told to by SIGTERM.
  const orphaned = () => process.kill(process.pid, 'SIGTERM');
  if (process.send) process.once('disconnect', orphaned);
  const world = await joinWorld(o.device, o.timeout ?? 120, o.backend);
  const device = world ? world.device : o.device;
  const main = !world || world.rank === 0;
  try {
    // A worker of a launcher reports each step to it, so that a failure can say where each rank was.
    const progress = progressReporter(recipe.epochs, { ...(o.logInterval ? { logInterval: o.logInterval } : {}) });
    const events: TrainEvents = main ? { ...progress } : {};
    if (process.send) {
      events.step = (info) => {
        if (main) progress.step?.(info);
        // A launcher gone mid-run is noticed by 'disconnect'; the callback keeps a failed send from throwing.
        if (process.connected)
          process.send!({ epoch: info.epoch, batch: info.batch }, undefined, undefined, () => undefined);
      };
    }
    const result = await train(recipe, {
      dataDir: o.dataDir,
      outDir: o.outDir,
      device,
      resume: o.resume,
      shouldStop: signals.shouldStop,
      events,
      ...(world ? { world } : {}),
    });
    if (!result.completed) {
      process.exitCode = signals.exitCode();
      return;
    }
    if (main)
      printEnd(result.model, result.history, recipe, o, { count: result.final?.count, quantized: result.quantized });
    result.model.dispose();
  } catch (e) {
    if (!(e instanceof RunFinishedError)) throw e;
    if (!main) return;
    // Nothing left to train: say so, with the run's figures, and succeed.
    (o.json ? process.stderr : process.stdout).write(`${e.message}\n`);
    const { model } = loadModelCheckpoint(lastCheckpoint(o.outDir));
    printEnd(model, e.history, recipe, o, {});
    model.dispose();
  } finally {
    signals.release();
    process.off('disconnect', orphaned); // the listener would keep the process alive
    world?.group.close();
  }
}

/**
 * The process group of a worker started with the torchrun environment (null for a process on its
 * own), and its device: on CUDA, LOCAL_RANK picks the GPU. NCCL needs a GPU per rank; Gloo lets
 * ranks share one.
 */
async function joinWorld(
  device: T.Device,
  timeout: number,
  cudaBackend?: T.CudaBackend,
): Promise<(World & { device: T.Device }) | null> {
  const env = worldFromEnv();
  if (!env) return null;
  if (env.rank !== 0) await waitForMaster(env.host, env.port, timeout * 1000);
  let place: T.Device = device;
  const backend = cudaBackend ?? T.ProcessGroup.defaultCudaBackend();
  if (device !== 'cpu') {
    const gpus = T.cuda.deviceCount();
    if (backend === 'nccl' && env.localRank >= gpus) {
      throw new UsageError(
        `LOCAL_RANK ${env.localRank} has no GPU of its own (${gpus} visible): NCCL needs one GPU per rank; --dist-backend gloo lets ranks share one`,
      );
    }
    place = `cuda:${env.localRank % gpus}`;
  }
  const group = new T.ProcessGroup({
    host: env.host,
    port: env.port,
    rank: env.rank,
    worldSize: env.size,
    timeoutMs: Math.ceil(timeout * 1000),
    cudaBackend: backend,
  });
  return { group, rank: env.rank, size: env.size, device: place };
}

/** `--nproc N` (N > 1): the same command as N workers; the launcher ends as they do. */
export async function launchRun(
  o: { nproc: number; timeout: number; threads?: number | undefined },
  device: T.Device,
  backend: T.CudaBackend | undefined,
  recipe: Recipe,
  workerArgs: string[],
  outDir: string,
): Promise<void> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1 || o.nproc > maxWorldSize)
    throw new UsageError(`--nproc must be an integer in 1..${maxWorldSize}, not ${o.nproc}`);
  if (worldFromEnv())
    throw new UsageError(
      '--nproc starts worker processes: a process started with WORLD_SIZE in its environment is one already',
    );
  if (device !== 'cpu' && device !== 'cuda')
    throw new UsageError(
      `--nproc with --device ${device}: each rank takes the GPU its LOCAL_RANK names; say --device cuda`,
    );
  if (
    device === 'cuda' &&
    (backend ?? T.ProcessGroup.defaultCudaBackend()) === 'nccl' &&
    o.nproc > T.cuda.deviceCount()
  ) {
    throw new UsageError(
      `--nproc ${o.nproc} over NCCL needs ${o.nproc} GPUs; ${T.cuda.deviceCount()} are visible (--dist-backend gloo lets ranks share one)`,
    );
  }
  if (recipe.data.batchSize % o.nproc)
    throw new UsageError(
      `--nproc ${o.nproc}: the batch of ${recipe.data.batchSize} cannot be split over ${o.nproc} processes; choose a count that divides it`,
    );
  const args = [
    ...workerArgs,
    '--device',
    device,
    '--timeout',
    String(o.timeout),
    ...(backend ? ['--dist-backend', backend] : []),
  ];
  process.exitCode = await launchWorkers(
    o.nproc,
    args,
    () => {
      const last = lastCheckpoint(outDir);
      if (!existsSync(last)) return 'No epoch had completed: nothing was saved.';
      const { position } = readTrainState(last);
      return (
        `Nothing is lost: ${last} holds the run up to epoch ${position.epoch}${position.batch ? `, batch ${position.batch}` : ''}; ` +
        `continue with micronet train --resume ${outDir} --nproc ${o.nproc}`
      );
    },
    o.threads,
  );
}

/** Continues the run saved in outDir with its own recipe, and its own data directory unless given one. */
export async function resumeRun(o: Omit<RunOptions, 'dataDir' | 'resume'> & { dataDir?: string }): Promise<void> {
  const saved = readTrainState(lastCheckpoint(o.outDir));
  await runRecipe(saved.recipe, { ...o, dataDir: o.dataDir ?? saved.dataDir, resume: true });
}
