// Writes torch.save files: a state dict as PyTorch's ZIP format (a protocol-2 pickle of an
// OrderedDict of tensors, each storage its own entry), which torch.load reads with
// weights_only=True and torch-file.ts reads back.
import * as T from '../torch/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeZip } from '../io/zip.js';
import { storageDtypes } from './torch-file.js';

const storageNames = new Map(Object.entries(storageDtypes).map(([name, dtype]) => [dtype, name]));
/** The archive's folder inside the ZIP: torch.save names it after the file; any name reads. */
const folder = 'archive';

const op = (...bytes: number[]) => Uint8Array.from(bytes);
const global = (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1');
function unicode(s: string): Uint8Array[] {
  const bytes = Buffer.from(s, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x58; // BINUNICODE
  head.writeUInt32LE(bytes.length, 1);
  return [head, bytes];
}
function int(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
    throw new Error(`torch.save writer: ${v} is out of range`);
  const b = Buffer.alloc(5);
  b[0] = 0x4a; // BININT
  b.writeInt32LE(v, 1);
  return b;
}
const tuple = (values: readonly number[]) => [op(0x28), ...values.map(int), op(0x74)]; // MARK ... TUPLE

/** C-contiguous strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = step;
    step *= shape[i]!;
  }
  return out;
}

/** torch._utils._rebuild_tensor_v2(storage as persistent id `key`, 0, shape, strides, False, OrderedDict()). */
function tensorPickle(t: T.Tensor, key: string): Uint8Array[] {
  const storage = storageNames.get(t.dtype);
  if (!storage) throw new Error(`torch.save writer: no PyTorch storage for ${t.dtype}`);
  return [
    global('torch._utils', '_rebuild_tensor_v2'),
    op(0x28), // MARK: the arguments
    op(0x28), // MARK: the persistent id ('storage', type, key, location, numel)
    ...unicode('storage'),
    global('torch', storage),
    ...unicode(key),
    ...unicode('cpu'),
    int(t.numel),
    op(0x74, 0x51), // TUPLE BINPERSID
    int(0),
    ...tuple(t.shape),
    ...tuple(strides(t.shape)),
    op(0x89), // NEWFALSE: requires_grad
    global('collections', 'OrderedDict'),
    op(0x29, 0x52), // EMPTY_TUPLE REDUCE: no backward hooks
    op(0x74, 0x52), // TUPLE REDUCE
  ];
}

/** The file's bytes as chunks: the OrderedDict's pickle, then each tensor's little-endian data. */
export function encodeTorchSave(stateDict: ReadonlyMap<string, T.Tensor>): Uint8Array[] {
  const pickle: Uint8Array[] = [op(0x80, 0x02), global('collections', 'OrderedDict'), op(0x29, 0x52, 0x28)];
  const entries: { name: string; data: Uint8Array }[] = [];
  let key = 0;
  for (const [name, t] of stateDict) {
    pickle.push(...unicode(name), ...tensorPickle(t, String(key)));
    const values = t.data(); // contiguous, on the CPU
    entries.push({
      name: `${folder}/data/${key}`,
      data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    key++;
  }
  pickle.push(op(0x75, 0x2e)); // SETITEMS STOP
  return encodeZip([
    { name: `${folder}/data.pkl`, data: Buffer.concat(pickle) },
    { name: `${folder}/byteorder`, data: Buffer.from('little') },
    ...entries,
    { name: `${folder}/version`, data: Buffer.from('3\n') },
  ]);
}

/** Writes a state dict as a torch.save file, atomically. */
export function writeTorchFile(path: string, stateDict: ReadonlyMap<string, T.Tensor>): void {
  writeFileAtomic(path, encodeTorchSave(stateDict));
}
