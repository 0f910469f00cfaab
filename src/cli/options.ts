// Options and checks shared by the commands that compute: the device, the data-parallel backend, the run directory.
import { join } from 'node:path';
import * as T from '../torch/index.js';
import { maxWorkers } from '../data/index.js';
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
