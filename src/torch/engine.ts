// Process-wide engine settings and diagnostics.
import { native } from './native.js';

/** Intra-op threads used by libtorch (default: all cores). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

/** Intra-op threads libtorch uses now. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Tensors alive on the native side (handles neither disposed nor collected). */
export function liveTensors(): number {
  return native.liveTensors();
}
