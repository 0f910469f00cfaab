// Loads the libtorch addon and describes its entry points. Nothing outside src/torch imports this.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** A tensor handle: a number naming a slot of the addon's tensor table (stale ones are refused). */
export type Handle = number & { readonly __tensorHandle: unique symbol };
/** A generator handle: an object owned by the addon. */
export type GeneratorHandle = object & { readonly __generatorHandle: unique symbol };
/** A CUDA stream or graph handle: an object owned by the addon. */
export type CudaHandle = object & { readonly __cudaHandle: unique symbol };

interface NativeEngine {
  dispose(t: Handle): boolean;
  isTensor(v: unknown): v is Handle;
  liveTensors(): number;
  findOp(name: string, overload: string): number;
  /** Calls operator `index` with the arguments in schema order (as the call's own arguments: reading an array's elements costs the addon a call into node each). */
  callOp(index: number, ...args: unknown[]): unknown;
  opSchema(index: number): string;
  fromBuffer(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], dtype: number): Handle;
  toBuffer(t: Handle): ArrayBuffer;
  shape(t: Handle): number[];
  strides(t: Handle): number[];
  dtype(t: Handle): number;
  device(t: Handle): string;
  requiresGrad(t: Handle): boolean;
  isLeaf(t: Handle): boolean;
  isContiguous(t: Handle, memoryFormat: number): boolean;
  grad(t: Handle): Handle | null;
  setGrad(t: Handle, g: Handle | null): void;
  backward(t: Handle, gradient: Handle | null, retainGraph: boolean): void;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  autocastState(deviceType: string): [boolean, number];
  autocastEnter(deviceType: string, enabled: boolean, dtype: number): void;
  autocastExit(deviceType: string, enabled: boolean, dtype: number): void;
  setDeterministic(enabled: boolean): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number | bigint): void;
  cudaDeviceCount(): number;
  builtWithCuda(): boolean;
  engineVersions(): { libtorch: string; cuda: string | null; cudnn: string | null };
  cudaStreamNew(): CudaHandle;
  cudaStreamSet(stream: CudaHandle | null): void;
  cudaSynchronize(): void;
  cudaGraphNew(): CudaHandle;
  cudaGraphCaptureBegin(graph: CudaHandle): void;
  cudaGraphCaptureEnd(graph: CudaHandle): void;
  cudaGraphReplay(graph: CudaHandle): void;
  cudaGraphReset(graph: CudaHandle): void;
  newGenerator(seed: number | bigint): GeneratorHandle;
  defaultGenerator(device?: string): GeneratorHandle;
  generatorGetState(g: GeneratorHandle): Handle;
  generatorSetState(g: GeneratorHandle, state: Handle): void;
  generatorInitialSeed(g: GeneratorHandle): bigint;
}

const addonPath = fileURLToPath(new URL('../../../native/build/Release/micronet_native.node', import.meta.url));

function load(): NativeEngine {
  try {
    return createRequire(import.meta.url)(addonPath) as NativeEngine;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]; // not node's require stack
    throw new Error(
      `micronet: cannot load the native engine at ${addonPath} (${why}). ` +
        'Build it: `npm rebuild micronet` where micronet is a dependency (npm 11 first needs `npm install-scripts approve micronet`), ' +
        '`npm run build:native` in its own checkout; either needs PyTorch 2.x: `bash scripts/setup.sh` installs it ' +
        'into .venv, or MICRONET_TORCH_PYTHON names a python with torch, or LIBTORCH=/dir an unpacked libtorch.',
    );
  }
}

export const native: NativeEngine = load();
// ATen sees one core on some machines; PyTorch's default is all of them, or OMP_NUM_THREADS.
native.setNumThreads(Number.parseInt(process.env.OMP_NUM_THREADS ?? '', 10) || availableParallelism());
