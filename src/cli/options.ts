// Options and checks shared by the commands that compute: the device, threads, the recipe, run output,
// the data-parallel backend, the run directory and checkpoint names.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import * as T from '../torch/index.js';
import { maxWorkers } from '../data/index.js';
import { applyOverrides, resolveRecipe, type Recipe } from '../recipes/index.js';
import { UsageError } from './args.js';

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
export function distBackend(value: string | undefined): T.CudaBackend | undefined {
  if (value === undefined) return undefined;
  if (value !== 'nccl' && value !== 'gloo') throw new UsageError(`--dist-backend must be nccl or gloo, not '${value}'`);
  if (value === 'nccl' && !T.ProcessGroup.backends().nccl)
    throw new UsageError('--dist-backend nccl: this build of the engine has no NCCL (it needs libtorch with CUDA)');
  return value;
}

/** A new run's default directory: runs/<name>-<time>. */
export const defaultOut = (name: string) =>
  join('runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);

/** --workers checked: loader threads within the loader's bound. */
export function checkedWorkers(workers: number): number {
  if (!Number.isInteger(workers) || workers < 0 || workers > maxWorkers)
    throw new UsageError(
      `--workers must be an integer in 0..${maxWorkers} (loader threads; more than the cores only contend), not ${workers}`,
    );
  return workers;
}

/** The --threads option of the commands that compute. */
export const threadsOption = {
  type: 'number',
  help: "the engine's threads (default: OMP_NUM_THREADS, else one per core); on a busy machine fewer are faster",
} as const;

/** The most threads --threads takes. */
const maxThreads = 1024;

/** --threads checked (undefined: not given). */
function checkedThreads(requested: number | undefined): number | undefined {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > maxThreads))
    throw new UsageError(`--threads must be an integer in 1..${maxThreads}, not ${requested}`);
  return requested;
}

/** Sets the engine's thread count and returns it: --threads if given, else OMP_NUM_THREADS, else one per core (PyTorch's default). */
export function useThreads(requested: number | undefined): number {
  checkedThreads(requested);
  const fromEnv = Number.parseInt(process.env.OMP_NUM_THREADS ?? '', 10);
  const threads = requested ?? (fromEnv > 0 ? fromEnv : availableParallelism());
  T.setNumThreads(threads);
  return threads;
}

/**
 * A hint when other work already takes cores (the load average before this run starts): engine
 * threads beyond the free cores wait on each other, and a busy machine runs faster with fewer.
 * Null when the machine looks free or the count was chosen.
 */
export function busyHint(threads: number, chosen: boolean, load = loadavg()[0]!): string | null {
  const free = Math.max(1, Math.round(availableParallelism() - load));
  if (chosen || threads <= free) return null;
  return (
    `the machine is busy (load average ${load.toFixed(1)} on ${availableParallelism()} cores): ` +
    `if steps are slow, --threads ${free} may be faster than ${threads}`
  );
}

/** --recipe: a built-in recipe's name or a recipe file, with --set overrides applied (a RecipeError is a usage error). */
export const recipeOption = (value: string, overrides: readonly string[] = []): Recipe =>
  applyOverrides(resolveRecipe(value), overrides);

/** The options of the commands that run a recipe, beside their own: threads, the end as JSON, progress lines. */
export const runOutputOptions = {
  threads: threadsOption,
  json: { type: 'boolean', help: 'end with one JSON object on stdout (figures and files); progress stays on stderr' },
  'log-interval': {
    type: 'number',
    help: 'when stderr is not a terminal: a progress line every N steps (default: one every 30 s)',
  },
} as const;

type RunOutput = { threads?: number | undefined; json?: boolean | undefined; 'log-interval'?: number | undefined };

/** The run-output options as runRecipe takes them, checked before anything is written. */
export function runOutput(o: RunOutput): { threads?: number; json?: boolean; logInterval?: number } {
  const n = o['log-interval'];
  if (n !== undefined && (!Number.isInteger(n) || n < 1))
    throw new UsageError(`--log-interval must be a positive number of steps, not ${n}`);
  return {
    ...(checkedThreads(o.threads) === undefined ? {} : { threads: o.threads }),
    ...(o.json ? { json: true } : {}),
    ...(n === undefined ? {} : { logInterval: n }),
  };
}

/** The run-output options again, for the workers of a data-parallel run (the launcher sets their threads). */
export const runOutputArgs = (o: RunOutput): string[] => [
  ...(o.json ? ['--json'] : []),
  ...(o['log-interval'] === undefined ? [] : ['--log-interval', String(o['log-interval'])]),
];

/** An --out that names a model checkpoint: .safetensors (micronet's, with its metadata) or .pth/.pt (torch.save's state dict). */
export function modelOut(path: string): string {
  if (!/\.(safetensors|pth|pt)$/i.test(path))
    throw new UsageError(
      `--out ${path}: name the checkpoint .safetensors (micronet's, which rebuilds the model alone) or .pth ` +
        "(torch.save's state dict, for torch.load)",
    );
  return path;
}
