// Process-wide engine settings and diagnostics.
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

/** Tensors alive on the native side (handles neither disposed nor collected). */
export function liveTensors(): number {
  return native.liveTensors();
}
