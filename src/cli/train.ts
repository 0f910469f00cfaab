// `micronet train` (a recipe end to end), `micronet smoke` (the main job: the smoke recipe on
// CIFAR-100 or, without it, on generated data) and `micronet prune` (one pruning pass).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../torch/index.js';
import { defaultDataDir, locate, writeSynthetic } from '../data/index.js';
import { loadAnyCheckpoint, loadModelCheckpoint, saveModelCheckpoint } from '../checkpoint/model-file.js';
import type { Module } from '../nn/index.js';
import { pruneByStd, sparsity, type LayerSelection } from '../prune/prune.js';
import { applyOverrides, findRecipe, recipeNames, type Recipe } from '../recipes/index.js';
import { formatSummary, summarise } from '../report/summary.js';
import { readTrainState } from '../checkpoint/train-file.js';
import type { EpochMetrics } from '../checkpoint/metrics.js';
import { bestCheckpoint, lastCheckpoint, metricsFile } from '../checkpoint/run-dir.js';
import { RunFinishedError, train, type TrainEvents } from '../train/trainer.js';
import { worldFromEnv, type World } from '../train/data-parallel.js';
import { launchWorkers } from './launch.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { progressReporter } from './progress.js';

/** Ctrl-C (SIGINT) or a polite kill (SIGTERM): save the position after this step; a second one quits at once. */
function stopOnSignal(): { shouldStop: () => boolean; exitCode: () => number; release: () => void } {
  let signal: NodeJS.Signals | null = null;
  const codes: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) process.exit(codes[s]!);
    signal = s;
    // In a data-parallel run the signal reaches every worker; rank 0 speaks for them.
    if (process.env.RANK && process.env.RANK !== '0') return;
    process.stderr.write(
      `\n${s === 'SIGINT' ? 'interrupted' : 'terminated'}: saving after this step (${s === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit at once)\n`,
    );
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  return {
    shouldStop: () => signal !== null,
    exitCode: () => codes[signal ?? 'SIGINT']!,
    release: () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, onSignal);
    },
  };
}

/** What the end of a run prints: the summary the report leads with, and where the files are. */
function summary(model: Module, history: EpochMetrics[], epochs: number, outDir: string, count?: number): string {
  const lines = formatSummary(summarise(model, history.at(-1)!, { epochs, ...(count === undefined ? {} : { count }) }));
  lines.push(
    `checkpoints: ${lastCheckpoint(outDir)} and ${bestCheckpoint(outDir)}; metrics: ${metricsFile(outDir)}; ` +
      `report: micronet report ${outDir}`,
  );
  return lines.join('\n');
}

export async function runRecipe(
  recipe: Recipe,
  dataDir: string,
  outDir: string,
  device: T.Device,
  resume: boolean,
  timeout = 120,
  backend?: T.CudaBackend,
): Promise<void> {
  const signals = stopOnSignal();
  // A worker of a launcher that is gone (killed) saves and stops like one told to by SIGTERM.
  const orphaned = () => process.kill(process.pid, 'SIGTERM');
  if (process.send) process.once('disconnect', orphaned);
  const world = joinWorld(device, timeout, backend);
  if (world) device = world.device;
  const main = !world || world.rank === 0;
  try {
    // A worker of a launcher reports each step to it, so that a failure can say where each rank was.
    const progress = progressReporter(recipe.epochs);
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
      dataDir,
      outDir,
      device,
      resume,
      shouldStop: signals.shouldStop,
      events,
      ...(world ? { world } : {}),
    });
    if (!result.completed) {
      process.exitCode = signals.exitCode();
      return;
    }
    if (!main) return;
    console.log(summary(result.model, result.history, recipe.epochs, outDir, result.final?.count));
    if (result.quantized)
      console.log(`quantized checkpoint (integer weights, for eval and score): ${result.quantized}`);
    result.model.dispose();
  } catch (e) {
    if (!(e instanceof RunFinishedError)) throw e;
    if (!main) return;
    // Nothing left to train: say so, with the run's figures, and succeed.
    console.log(e.message);
    const { model } = loadModelCheckpoint(lastCheckpoint(outDir));
    console.log(summary(model, e.history, recipe.epochs, outDir));
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
function joinWorld(
  device: T.Device,
  timeout: number,
  cudaBackend?: T.CudaBackend,
): (World & { device: T.Device }) | null {
  const env = worldFromEnv();
  if (!env) return null;
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
async function launch(
  o: { nproc: number; timeout: number },
  device: T.Device,
  backend: T.CudaBackend | undefined,
  recipe: Recipe,
  workerArgs: string[],
  outDir: string,
): Promise<void> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1)
    throw new UsageError(`--nproc must be a positive integer, not ${o.nproc}`);
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
  process.exitCode = await launchWorkers(o.nproc, args, () => {
    const last = lastCheckpoint(outDir);
    if (!existsSync(last)) return 'No epoch had completed: nothing was saved.';
    const { position } = readTrainState(last);
    return (
      `Nothing is lost: ${last} holds the run up to epoch ${position.epoch}${position.batch ? `, batch ${position.batch}` : ''}; ` +
      `continue with micronet train --resume ${outDir} --nproc ${o.nproc}`
    );
  });
}

/** The --device option of the commands that train. */
export const deviceOption = {
  type: 'string',
  help: 'auto (CUDA where this build of the engine sees a GPU, else cpu), cpu, cuda or cuda:N',
  default: 'auto',
} as const;

/** --device checked: one this build of the engine can use; auto is the GPU when there is one. */
export function checkedDevice(device: string): T.Device {
  if (device === 'auto') return T.cuda.isAvailable() ? 'cuda' : 'cpu';
  if (!T.isDevice(device)) throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, not '${device}'`);
  if (device !== 'cpu' && !T.cuda.isAvailable())
    throw new UsageError(`--device ${device}: no CUDA device is visible to this build of the engine`);
  return device;
}

/** --dist-backend checked. */
function distBackend(value: string | undefined): T.CudaBackend | undefined {
  if (value === undefined) return undefined;
  if (value !== 'nccl' && value !== 'gloo') throw new UsageError(`--dist-backend must be nccl or gloo, not '${value}'`);
  if (value === 'nccl' && !T.ProcessGroup.backends().nccl)
    throw new UsageError('--dist-backend nccl: this build of the engine has no NCCL (it needs libtorch with CUDA)');
  return value;
}

/** Continues the run saved in dir with its own recipe, and its own data directory unless given one. */
export async function resumeRun(
  dir: string,
  data: string | undefined,
  device: T.Device,
  timeout?: number,
  backend?: T.CudaBackend,
): Promise<void> {
  const saved = readTrainState(lastCheckpoint(dir));
  await runRecipe(saved.recipe, data ?? saved.dataDir, dir, device, true, timeout, backend);
}

export const defaultOut = (name: string) =>
  join('runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train (and prune) a model with a recipe, checkpointing every epoch',
  options: {
    recipe: { type: 'string', help: `the recipe (${recipeNames().join(', ')})` },
    data: { type: 'string', help: "the CIFAR data directory (default: the user cache; on --resume, the run's own)" },
    out: { type: 'string', help: 'the run directory (default: runs/<recipe>-<time>)' },
    device: deviceOption,
    set: { type: 'list', help: 'override a recipe field: path=value, e.g. epochs=10' },
    resume: { type: 'string', help: 'continue the run in this directory' },
    nproc: {
      type: 'number',
      help: "data-parallel worker processes on this machine, one per GPU on CUDA (the recipe's batch is split over them)",
    },
    timeout: {
      type: 'number',
      help: 'data-parallel: seconds a rank waits for the others before the run fails',
      default: 120,
    },
    'dist-backend': {
      type: 'string',
      help: 'data-parallel on CUDA: nccl (default where the build has it) or gloo (ranks may share a GPU)',
    },
  },
  async run(o) {
    if (o._.length) throw new UsageError(`unexpected argument '${o._[0]}'`);
    if (!(o.timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, not ${o.timeout}`);
    const device = checkedDevice(o.device);
    const backend = distBackend(o['dist-backend']);
    if (o.resume) {
      if (o.set?.length || o.recipe)
        throw new UsageError('--resume continues the saved recipe: --recipe and --set are not accepted with it');
      if (o.nproc !== undefined) {
        const saved = readTrainState(lastCheckpoint(o.resume)); // a missing or damaged run is reported once, not by every worker
        return launch(
          { ...o, nproc: o.nproc },
          device,
          backend,
          saved.recipe,
          ['train', '--resume', o.resume, ...(o.data ? ['--data', o.data] : [])],
          o.resume,
        );
      }
      return resumeRun(o.resume, o.data, device, o.timeout, backend);
    }
    if (!o.recipe) throw new UsageError(`--recipe is needed (${recipeNames().join(', ')})`);
    const recipe = applyOverrides(findRecipe(o.recipe), o.set ?? []);
    const outDir = o.out ?? defaultOut(recipe.name);
    if (o.nproc !== undefined) {
      // Every worker gets the same run directory (a default one names the time).
      return launch(
        { ...o, nproc: o.nproc },
        device,
        backend,
        recipe,
        [
          'train',
          '--recipe',
          o.recipe,
          ...(o.set ?? []).flatMap((s) => ['--set', s]),
          '--out',
          outDir,
          ...(o.data ? ['--data', o.data] : []),
        ],
        outDir,
      );
    }
    return runRecipe(recipe, o.data ?? defaultDataDir(), outDir, device, false, o.timeout, backend);
  },
});

export const smokeCommand = defineCommand({
  name: 'smoke',
  summary:
    'the main job: the smoke recipe end to end (train, prune, evaluate, score) on CIFAR-100, or on generated data without it',
  options: {
    data: { type: 'string', help: 'the CIFAR-100 directory (default: the user cache)' },
    out: { type: 'string', help: 'the run directory (default: runs/smoke-<time>)' },
    set: { type: 'list', help: 'override a recipe field: path=value' },
    device: deviceOption,
  },
  async run(o) {
    const device = checkedDevice(o.device);
    let dataDir = o.data ?? defaultDataDir();
    const recipe = applyOverrides(findRecipe('smoke'), o.set ?? []);
    const outDir = o.out ?? defaultOut('smoke');
    let real = true;
    try {
      locate(dataDir, 'cifar100');
    } catch {
      real = false;
    }
    if (real) {
      console.log(`CIFAR-100 found in ${dataDir}: the smoke recipe runs on the real data`);
    } else {
      dataDir = join(outDir, 'generated-data');
      console.log(
        `CIFAR-100 is not in ${o.data ?? defaultDataDir()} (\`micronet data download\` fetches it): ` +
          `the smoke recipe runs on a generated CIFAR-100-format set in ${dataDir}`,
      );
      writeSynthetic(dataDir, { dataset: 'cifar100', train: 2560, test: 512, seed: recipe.seed });
    }
    await runRecipe(recipe, dataDir, outDir, device, false);
  },
});

export const pruneCommand = defineCommand({
  name: 'prune',
  summary: 'prune a checkpoint once by magnitude: |w| < q * std(w) set to zero in the masks',
  options: {
    checkpoint: { type: 'string', help: 'a micronet checkpoint (model or training) or a PyTorch .pth', required: true },
    out: { type: 'string', help: 'the pruned model checkpoint to write (.safetensors)', required: true },
    q: { type: 'number', help: "threshold as a multiple of each layer's weight std", default: 0.25 },
    layers: { type: 'string', help: 'conv, linear, all, or comma-separated layer names', default: 'all' },
    model: { type: 'string', help: 'the network of a .pth checkpoint', default: 'googlenet' },
  },
  run(o) {
    if (o._.length) throw new UsageError(`unexpected argument '${o._[0]}'`);
    const selection: LayerSelection = ['conv', 'linear', 'all'].includes(o.layers)
      ? (o.layers as 'conv' | 'linear' | 'all')
      : o.layers.split(',');
    const { model, name, config, info, dataset } = loadAnyCheckpoint(o.checkpoint, o.model);
    const results = pruneByStd(model, selection, o.q);
    for (const r of results) {
      console.log(
        `${r.name.padEnd(12)} threshold ${r.threshold.toExponential(3)}  kept ${r.after.toLocaleString('en-US')} of ${r.numel.toLocaleString('en-US')} (${((100 * r.after) / r.numel).toFixed(1)}%)`,
      );
    }
    const s = sparsity(model);
    saveModelCheckpoint(
      o.out,
      model,
      name,
      config,
      { ...info, prunedFrom: o.checkpoint, q: o.q, layers: o.layers },
      dataset,
    );
    console.log(
      `${results.length} layers pruned; conv/linear sparsity now ${((100 * s.zeros) / s.total).toFixed(2)}% -> ${o.out}`,
    );
    model.dispose();
  },
});
