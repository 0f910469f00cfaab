// CUDA as libtorch sees it (torch.cuda): availability, streams, synchronisation and graphs.
import { native, type CudaHandle } from './native.js';

/** CUDA availability and synchronisation (torch.cuda). */
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
  /** Waits until the GPU has done all queued work (timing, and the host reading device memory). */
  synchronize(): void {
    native.cudaSynchronize();
  },
};

/** A CUDA stream of the current device (torch.cuda.Stream): work queued on it runs in order. */
export class CudaStream {
  readonly #handle: CudaHandle = native.cudaStreamNew();

  /** Runs fn with this stream current (after the work queued so far), then the default stream again (after fn's work). */
  run<R>(fn: () => R): R {
    native.cudaStreamSet(this.#handle);
    try {
      return fn();
    } finally {
      native.cudaStreamSet(null);
    }
  }

  /** Makes this stream current for what follows, until `CudaStream.restoreDefault()`. */
  enter(): void {
    native.cudaStreamSet(this.#handle);
  }

  /** The default stream current again, after the work queued on the current one. */
  static restoreDefault(): void {
    native.cudaStreamSet(null);
  }
}

/**
 * A CUDA graph (torch.cuda.CUDAGraph): the kernels that `capture(fn)` queues are recorded, not
 * run, and `replay()` runs them all again with one launch, reading and writing the same memory.
 * Capture needs a side stream current (CudaStream.run) and no host synchronisation inside fn.
 */
export class CudaGraph {
  #handle: CudaHandle | null = native.cudaGraphNew();

  /** Records fn's kernels; nothing runs until replay(). If fn throws, the capture is abandoned and the error rethrown. */
  capture<R>(fn: () => R): R {
    const handle = this.#live();
    native.cudaGraphCaptureBegin(handle);
    let result: R;
    try {
      result = fn();
    } catch (e) {
      try {
        native.cudaGraphCaptureEnd(handle);
      } catch {
        /* the capture was invalid already: fn's error says why */
      }
      throw e;
    }
    native.cudaGraphCaptureEnd(handle);
    return result;
  }

  /** Runs the captured kernels once more, on the current stream. */
  replay(): void {
    native.cudaGraphReplay(this.#live());
  }

  /** Frees the graph and its private memory now; tensors the capture made must be disposed by their owner. */
  dispose(): void {
    if (this.#handle) native.cudaGraphReset(this.#handle);
    this.#handle = null;
  }

  #live(): CudaHandle {
    if (!this.#handle) throw new Error('CudaGraph: used after dispose()');
    return this.#handle;
  }
}
