// Process-wide engine settings and diagnostics.
import { native } from './native.js';

/** Intra-op threads used by libtorch (default: all cores). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Tensors alive on the native side (handles neither disposed nor collected). */
export function liveTensors(): number {
  return native.liveTensors();
}

export const cuda = {
  /** True when the addon was built against a CUDA libtorch and a GPU is visible. */
  isAvailable(): boolean {
    return native.cudaDeviceCount() > 0;
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  builtWithCuda(): boolean {
    return native.builtWithCuda();
  },
};
