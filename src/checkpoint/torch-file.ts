// Reads checkpoints written by torch.save (the ZIP format of PyTorch >= 1.6) without running
// Python: a restricted unpickler that only knows how to rebuild tensors and containers. Tensors
// come out as checked references into the archive, not yet read, so that a caller can compare
// their shapes with a model before anything is inflated or allocated (see loadTensors).
import { totalmem } from 'node:os';
import * as T from '../torch/index.js';
import type { TensorSpec } from '../nn/index.js';
import { PickleError, unpickle, type PickleGlobal } from '../io/pickle.js';
import { readFileNamed } from '../io/read.js';
import { ZipReader } from '../io/zip.js';

/** PyTorch's storage classes and the dtypes they hold. */
export const storageDtypes: Record<string, T.DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const elementBytes = T.dtypeBytes;

/** A state dict's pickle is kilobytes: a larger one is refused before it is inflated. */
const maxPickleBytes = 64 * 2 ** 20;

class StorageType {
  constructor(readonly dtype: T.DType) {}
}

/** A storage of the archive: `numel` elements of `dtype` in one ZIP entry, whose declared size matches. */
class StorageRef {
  constructor(
    readonly path: string,
    readonly zip: ZipReader,
    readonly entry: string,
    readonly key: string,
    readonly dtype: T.DType,
    readonly numel: number,
  ) {}

  /** Bytes of the whole storage. */
  get nbytes(): number {
    return this.numel * elementBytes[this.dtype];
  }

  /**
   * The storage's bytes (a view of the file when stored). A compressed storage is inflated only
   * when its tensors use all of it: a small entry can claim gigabytes, and those are refused.
   */
  read(needed: number): Uint8Array {
    const { method, compressedSize } = this.zip.entries.get(this.entry)!;
    if (method !== 0 && this.nbytes > needed) {
      throw new Error(
        `${this.path}: storage '${this.key}' is compressed to ${compressedSize} bytes and would inflate to ${this.nbytes}, ` +
          `more than the ${needed} bytes its tensors need`,
      );
    }
    return this.zip.read(this.entry, { maxSize: this.nbytes });
  }
}

/** A tensor of a torch.save file: a layout over a storage, checked to lie within it; values not read yet. */
export class TensorRef implements TensorSpec {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly numel: number,
  ) {}

  /** The storage's element type. */
  get dtype(): T.DType {
    return this.storage.dtype;
  }
  /** Bytes of the tensor's elements (not of its storage). */
  get nbytes(): number {
    return this.numel * elementBytes[this.dtype];
  }

  /** The storage element just past the last one the tensor reads (its offset when empty). */
  get end(): number {
    return this.numel === 0
      ? this.offset
      : this.shape.reduce((e, d, i) => e + (d - 1) * this.stride[i]!, this.offset) + 1;
  }

  /** True when the layout is row-major dense (size-1 dimensions' strides ignored), so the values are one run of the storage. */
  get contiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== expected) return false;
      expected *= this.shape[i]!;
    }
    return true;
  }
}

/** torch._utils._rebuild_tensor_v2: a TensorRef into its storage, its size, strides and offset checked to stay inside it. */
function tensorRebuilder(fail: (problem: string) => never): PickleGlobal {
  return {
    call([storage, offset, size, stride]) {
      if (!(storage instanceof StorageRef)) return fail('tensor without a storage');
      const dims = (v: unknown, what: string): number[] => {
        if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d))) return fail(`malformed tensor ${what}`);
        if (v.some((d) => d < 0)) fail(`tensor ${what} [${v.join(', ')}] has a negative entry`);
        return v as number[];
      };
      const shape = dims(size, 'size');
      const strides = dims(stride, 'stride');
      if (strides.length !== shape.length) fail(`tensor of size [${shape.join(', ')}] has ${strides.length} strides`);
      if (!Number.isSafeInteger(offset)) fail('malformed tensor storage offset');
      if ((offset as number) < 0) fail(`tensor storage offset ${offset as number} is negative`);
      const layout = `tensor of size [${shape.join(', ')}], strides [${strides.join(', ')}] at offset ${offset as number}`;
      // Every count, extent and byte size is checked exact (safe integers) before it is used.
      const numel = shape.includes(0) ? 0 : shape.reduce((n, d) => n * d, 1);
      if (!Number.isSafeInteger(numel * elementBytes[storage.dtype])) fail(`${layout} is too large`);
      let end = offset as number;
      if (numel > 0) {
        for (const [i, d] of shape.entries()) end += (d - 1) * strides[i]!;
        end += 1;
      }
      if (!Number.isSafeInteger(end) || end > storage.numel)
        fail(`${layout} reaches beyond its storage of ${storage.numel} elements`);
      return new TensorRef(storage, offset as number, shape, strides, numel);
    },
  };
}

/**
 * The object a torch.save file holds: Maps for dicts, arrays for lists and tuples, TensorRefs for
 * tensors (read them with loadTensors or materialize), numbers, strings.
 */
export function readTorchFile(path: string): unknown {
  const bytes = readFileNamed(path);
  const fail = (problem: string): never => {
    throw new PickleError(`${path}: ${problem}`);
  };
  if (bytes.byteLength >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) {
    fail("written in torch.save's legacy format (PyTorch < 1.6): re-save it with a current PyTorch");
  }
  if (bytes.byteLength < 4 || bytes.readUInt32LE(0) !== 0x04034b50)
    fail('not a torch.save checkpoint (expected a ZIP archive)');
  const zip = new ZipReader(bytes, path);
  const pkl = [...zip.entries.keys()].find((n) => n.endsWith('data.pkl') && n.split('/').length === 2);
  if (!pkl) return fail('no data.pkl in the archive (not written by torch.save?)');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`, { maxSize: 16 }));
    if (order !== 'little') fail(`${order}-endian checkpoints are not supported`);
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof StorageType))
      fail('unsupported persistent id (only tensor storages are accepted)');
    const [, { dtype }, key, , numel] = pid as [string, StorageType, unknown, unknown, unknown];
    if (typeof key !== 'string' || !Number.isSafeInteger(numel)) return fail('malformed storage reference');
    if ((numel as number) < 0) fail(`storage '${key}' has a negative element count ${numel as number}`);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== numel)
        fail(`storage '${key}' is referenced with two different types or sizes`);
      return known;
    }
    const entry = `${prefix}data/${key}`;
    const declared = zip.entries.get(entry)?.size;
    if (declared === undefined) fail(`storage '${key}' has no entry in the archive`);
    const storage = new StorageRef(path, zip, entry, key, dtype, numel as number);
    if (!Number.isSafeInteger(storage.nbytes) || storage.nbytes !== declared) {
      fail(
        `storage '${key}' of ${numel as number} ${dtype} elements needs ${storage.nbytes} bytes, its archive entry declares ${declared}`,
      );
    }
    storages.set(key, storage);
    return storage;
  };

  const rebuildTensor = tensorRebuilder(fail);

  const globals: Record<string, PickleGlobal | StorageType> = {
    'collections.OrderedDict': { call: () => new Map(), build: (obj) => obj }, // BUILD carries `_metadata`: not needed
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': { call: ([data]) => data },
  };
  for (const [name, dtype] of Object.entries(storageDtypes)) globals[`torch.${name}`] = new StorageType(dtype);

  return unpickle(zip.read(pkl, { maxSize: maxPickleBytes }), {
    what: `${path} (${pkl})`,
    findGlobal: (module, name) => globals[`${module}.${name}`],
    persistentLoad,
  });
}

/** One tensor from its storage's bytes; the allocation is checked against the machine first. */
function readTensor(ref: TensorRef, bytes: Uint8Array): T.Tensor {
  const { storage, shape, dtype } = ref;
  const what = `tensor of size [${shape.join(', ')}] (${ref.nbytes} bytes) from storage '${storage.key}'`;
  if (ref.nbytes > totalmem()) throw new Error(`${storage.path}: cannot read ${what}: more than this machine's memory`);
  try {
    if (ref.numel === 0) return T.zeros(shape, { dtype });
    const size = elementBytes[dtype];
    return T.tidy(() => {
      const span = T.tensor(bytes.subarray(ref.offset * size, ref.end * size), {
        dtype,
        shape: [ref.end - ref.offset],
      });
      return ref.contiguous ? span.view(shape) : span.asStrided(shape, ref.stride, 0).clone('contiguous');
    });
  } catch (e) {
    throw new Error(`${storage.path}: cannot read ${what}`, { cause: e });
  }
}

/**
 * The tensors of some references (each storage read once, then released). A compressed storage
 * larger than what its tensors here need is refused rather than inflated.
 */
export function loadTensors<K>(refs: ReadonlyMap<K, TensorRef>): Map<K, T.Tensor> {
  const byStorage = new Map<StorageRef, [K, TensorRef][]>();
  for (const [k, ref] of refs) {
    const uses = byStorage.get(ref.storage) ?? [];
    uses.push([k, ref]);
    byStorage.set(ref.storage, uses);
  }
  const loaded = new Map<K, T.Tensor>();
  try {
    for (const [storage, uses] of byStorage) {
      const bytes = storage.read(uses.reduce((n, [, ref]) => n + ref.nbytes, 0));
      for (const [k, ref] of uses) loaded.set(k, readTensor(ref, bytes));
    }
  } catch (e) {
    for (const t of loaded.values()) t.dispose();
    throw e;
  }
  return new Map([...refs.keys()].map((k) => [k, loaded.get(k)!]));
}

/** The object with every TensorRef in its dicts and lists replaced, in place, by its tensor. */
export function materialize(obj: unknown): unknown {
  const refs = new Map<TensorRef, TensorRef>();
  const seen = new Set<object>();
  const walk = (v: unknown, visit: (ref: TensorRef) => unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Map)
      for (const [k, x] of v) {
        if (x instanceof TensorRef) v.set(k, visit(x));
        else walk(x, visit);
      }
    else if (Array.isArray(v))
      v.forEach((x, i) => {
        if (x instanceof TensorRef) v[i] = visit(x);
        else walk(x, visit);
      });
  };
  if (obj instanceof TensorRef) return loadTensors(new Map([[obj, obj]])).get(obj);
  walk(obj, (ref) => {
    refs.set(ref, ref);
    return ref;
  });
  const tensors = loadTensors(refs);
  seen.clear();
  walk(obj, (ref) => tensors.get(ref));
  return obj;
}

const wrapperKeys = ['model_state_dict', 'state_dict', 'model', 'net'];

/**
 * The model state dict inside a loaded checkpoint: the object itself when it maps names to
 * tensors, or the one under a key such as `model_state_dict` (a `module.` prefix is removed).
 */
export function extractStateDict(obj: unknown, what: string): { stateDict: Map<string, TensorRef>; from: string } {
  const isStateDict = (v: unknown): v is Map<string, TensorRef> =>
    v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);
  let found: Map<string, TensorRef> | undefined;
  let from = 'the top level';
  if (isStateDict(obj)) found = obj;
  else if (obj instanceof Map) {
    const key = wrapperKeys.find((k) => isStateDict(obj.get(k)));
    if (key) {
      found = obj.get(key) as Map<string, TensorRef>;
      from = `'${key}'`;
    }
  }
  if (!found) {
    const keys =
      obj instanceof Map
        ? `keys ${[...obj.keys()].map(String).join(', ')}`
        : `a ${Array.isArray(obj) ? 'list' : typeof obj}`;
    throw new Error(
      `${what} holds no state dict (a dict of tensors at the top level or under ${wrapperKeys.join(', ')}); found ${keys}`,
    );
  }
  const keys = [...found.keys()];
  if (keys.every((k) => k.startsWith('module.'))) {
    found = new Map([...found].map(([k, t]) => [k.slice('module.'.length), t]));
  }
  return { stateDict: found, from };
}
