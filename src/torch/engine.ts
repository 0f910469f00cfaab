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

/** CUDA availability as libtorch sees it (torch.cuda). */
export const cuda = {
  /** True when the addon was built against a CUDA libtorch and a GPU is visible. */
  isAvailable(): boolean {
    return native.cudaDeviceCount() > 0;
  },
  /** Number of visible GPUs (0 without CUDA). */
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  /** True when the addon was built against a CUDA libtorch, whether or not a GPU is visible. */
  builtWithCuda(): boolean {
    return native.builtWithCuda();
  },
};
