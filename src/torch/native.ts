// Loads the libtorch addon and describes its entry points. Nothing outside src/torch imports this.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** An opaque reference to a libtorch tensor or generator, owned by the addon. */
export type Handle = object & { readonly __handle: unique symbol };

export interface NativeEngine {
  dispose(t: Handle): boolean;
  isTensor(v: unknown): boolean;
  liveTensors(): number;
  findOp(name: string, overload: string): number;
  callOp(index: number, args: unknown[]): unknown;
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
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number | bigint): void;
  cudaDeviceCount(): number;
  builtWithCuda(): boolean;
  newGenerator(seed: number | bigint): Handle;
  generatorGetState(g: Handle): Handle;
  generatorSetState(g: Handle, state: Handle): void;
  generatorInitialSeed(g: Handle): bigint;
}

const addonPath = fileURLToPath(new URL('../../../native/build/Release/micronet_native.node', import.meta.url));

function load(): NativeEngine {
  try {
    return createRequire(import.meta.url)(addonPath) as NativeEngine;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`micronet: cannot load the native engine at ${addonPath} (${why}). `
      + 'Build it with `npm run build:native` (needs libtorch: Debian\'s libtorch-dev, or LIBTORCH=/dir).');
  }
}

export const native: NativeEngine = load();
// ATen sees one core on some machines; PyTorch's default is all of them.
native.setNumThreads(availableParallelism());
