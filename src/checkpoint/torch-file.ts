// Reads checkpoints written by torch.save (the ZIP format of PyTorch >= 1.6) without running
// Python: a restricted unpickler that only knows how to rebuild tensors and containers.
import * as T from '../torch/index.js';
import { unpickle, type PickleGlobal } from '../io/pickle.js';
import { readFileNamed } from '../io/read.js';
import { ZipReader } from '../io/zip.js';

const storageDtypes: Record<string, T.DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};
const elementBytes: Record<T.DType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

class StorageType { constructor(readonly dtype: T.DType) {} }

/** The object a torch.save file holds: Maps for dicts, arrays for lists and tuples, Tensors, numbers, strings. */
export function readTorchFile(path: string): unknown {
  const bytes = readFileNamed(path);
  if (bytes.byteLength >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) {
    throw new Error(`${path} uses torch.save's legacy format (PyTorch < 1.6): re-save it with a current PyTorch`);
  }
  if (bytes.byteLength < 4 || bytes.readUInt32LE(0) !== 0x04034b50) {
    throw new Error(`${path} is not a torch.save checkpoint (expected a ZIP archive)`);
  }
  const zip = new ZipReader(bytes, path);
  const pkl = [...zip.entries.keys()].find((n) => n.endsWith('data.pkl') && n.split('/').length === 2);
  if (!pkl) throw new Error(`${path}: no data.pkl in the archive (not written by torch.save?)`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`));
    if (order !== 'little') throw new Error(`${path}: ${order}-endian checkpoints are not supported`);
  }

  const storages = new Map<string, T.Tensor>();
  const created: T.Tensor[] = [];
  const fail = (problem: string): never => { throw new Error(`${path}: ${problem}`); };

  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof StorageType)) fail('unsupported persistent id (only tensor storages are accepted)');
    const [, type, key, , numel] = pid as [string, StorageType, unknown, unknown, unknown];
    if (typeof key !== 'string' || !Number.isSafeInteger(numel)) fail('malformed storage reference');
    let storage = storages.get(key as string);
    if (!storage) {
      const raw = zip.read(`${prefix}data/${key as string}`);
      const nbytes = (numel as number) * elementBytes[type.dtype];
      if (raw.byteLength < nbytes) fail(`storage ${key as string} holds ${raw.byteLength} bytes, ${nbytes} expected`);
      storage = T.tensor(raw.subarray(0, nbytes), { dtype: type.dtype, shape: [numel as number] });
      storages.set(key as string, storage);
    }
    return storage;
  };

  const rebuildTensor: PickleGlobal = {
    call([storage, offset, size, stride]) {
      if (!(storage instanceof T.Tensor)) fail('tensor without a storage');
      const dims = (v: unknown) => (Array.isArray(v) && v.every(Number.isSafeInteger) ? v as number[] : fail('malformed tensor size or stride'));
      const shape = dims(size);
      const strides = dims(stride);
      if (!Number.isSafeInteger(offset) || strides.length !== shape.length) fail('malformed tensor layout');
      const last = shape.reduce((end, d, i) => (d === 0 ? end : end + (d - 1) * strides[i]!), offset as number);
      const numel = (storage as T.Tensor).numel;
      if (shape.some((d) => d < 0) || strides.some((s) => s < 0) || (shape.every((d) => d > 0) && last >= numel)) {
        fail(`tensor of shape [${shape.join(', ')}] reaches beyond its storage of ${numel} elements`);
      }
      const t = T.tidy(() => (storage as T.Tensor).asStrided(shape, strides, offset as number).clone('contiguous'));
      created.push(t);
      return t;
    },
  };

  const globals: Record<string, PickleGlobal | StorageType> = {
    'collections.OrderedDict': { call: () => new Map(), build: (obj) => obj },  // BUILD carries `_metadata`: not needed
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': { call: ([data]) => data },
  };
  for (const [name, dtype] of Object.entries(storageDtypes)) globals[`torch.${name}`] = new StorageType(dtype);

  try {
    return unpickle(zip.read(pkl), {
      what: `${path} (${pkl})`,
      findGlobal: (module, name) => globals[`${module}.${name}`],
      persistentLoad,
    });
  } catch (e) {
    for (const t of created) t.dispose();
    throw e;
  } finally {
    for (const s of storages.values()) s.dispose();
  }
}

const wrapperKeys = ['model_state_dict', 'state_dict', 'model', 'net'];

/**
 * The model state dict inside a loaded checkpoint: the object itself when it maps names to
 * tensors, or the one under a key such as `model_state_dict` (a `module.` prefix is removed).
 */
export function extractStateDict(obj: unknown, what: string): { stateDict: Map<string, T.Tensor>; from: string } {
  const isStateDict = (v: unknown): v is Map<string, T.Tensor> =>
    v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && t instanceof T.Tensor);
  let found: Map<string, T.Tensor> | undefined;
  let from = 'the top level';
  if (isStateDict(obj)) found = obj;
  else if (obj instanceof Map) {
    const key = wrapperKeys.find((k) => isStateDict(obj.get(k)));
    if (key) { found = obj.get(key) as Map<string, T.Tensor>; from = `'${key}'`; }
  }
  if (!found) {
    const keys = obj instanceof Map ? `keys ${[...obj.keys()].map(String).join(', ')}` : `a ${Array.isArray(obj) ? 'list' : typeof obj}`;
    throw new Error(`${what} holds no state dict (a dict of tensors at the top level or under ${wrapperKeys.join(', ')}); found ${keys}`);
  }
  const keys = [...found.keys()];
  if (keys.every((k) => k.startsWith('module.'))) {
    found = new Map([...found].map(([k, t]) => [k.slice('module.'.length), t]));
  }
  return { stateDict: found, from };
}

