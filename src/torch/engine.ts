// Process-wide engine settings and diagnostics.
import { ProcessGroup } from './distributed.js';
import { native } from './native.js';

/** Intra-op threads used by libtorch (default: all cores). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

/**
 * Deterministic kernels where libtorch has them (torch.use_deterministic_algorithms with
 * warn_only, and cudnn.deterministic): GPU runs repeat exactly, at some cost in speed.
 */
export function setDeterministic(enabled: boolean): void {
  native.setDeterministic(enabled);
}

/** Intra-op threads libtorch uses now. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** The engine this build runs on: libtorch's release and, in a CUDA build, the CUDA runtime's, cuDNN's and NCCL's; null where absent. */
export interface EngineVersions {
  libtorch: string;
  cuda: string | null;
  cudnn: string | null;
  nccl: string | null;
  gloo: boolean;
}

export function engineVersions(): EngineVersions {
  const { libtorch, cuda, cudnn } = native.engineVersions();
  const { gloo, nccl } = ProcessGroup.backends();
  return { libtorch, cuda, cudnn, nccl, gloo };
}

/** One line naming the engine: `libtorch 2.13.0 CPU`, or `libtorch 2.14.1 CUDA 13.0, cuDNN 9.13.0, NCCL 2.27.7`. */
export function describeEngine(v: EngineVersions = engineVersions()): string {
  if (!v.cuda) return `libtorch ${v.libtorch} CPU`;
  return [
    `libtorch ${v.libtorch} CUDA ${v.cuda}`,
    ...(v.cudnn ? [`cuDNN ${v.cudnn}`] : []),
    ...(v.nccl ? [`NCCL ${v.nccl}`] : []),
  ].join(', ');
}

/** Tensors alive on the native side (handles neither disposed nor collected). */
export function liveTensors(): number {
  return native.liveTensors();
}
