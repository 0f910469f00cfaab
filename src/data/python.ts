// The python CIFAR format: one pickled dict per file with 'data' (uint8 N x 3072) and the labels
// ('fine_labels'/'coarse_labels' for CIFAR-100, 'labels' for CIFAR-10).
import { classCount, IMAGE_BYTES, type DatasetName, type LabelKind, type Split } from './cifar.js';
import { NdArray, readPickle } from './numpy-pickle.js';

/** The dict's entries by name: Python 2 writes keys as str, Python 3 may write them as bytes. */
function entries(v: unknown, name: string): Map<string, unknown> {
  if (!(v instanceof Map)) throw new Error(`${name}: expected a pickled dict`);
  const out = new Map<string, unknown>();
  for (const [k, x] of v) {
    if (typeof k === 'string') out.set(k, x);
    else if (k instanceof Uint8Array) out.set(Buffer.from(k).toString('latin1'), x);
  }
  return out;
}

/** Parses the pickled batches of one or more files (concatenated in order) into a split, checking shapes and labels. */
export function parsePython(
  files: readonly { name: string; bytes: Uint8Array }[],
  dataset: DatasetName,
  labels: LabelKind = 'fine',
): Split {
  const classes = classCount(dataset, labels);
  const key = dataset === 'cifar10' ? 'labels' : `${labels}_labels`;
  const parts = files.map(({ name, bytes }) => {
    const dict = entries(readPickle(bytes, name), name);
    const data = dict.get('data');
    if (!(data instanceof NdArray) || data.dtype !== 'u1' || data.shape.length !== 2 || data.shape[1] !== IMAGE_BYTES)
      throw new Error(`${name}: 'data' is not a uint8 array of shape [N, ${IMAGE_BYTES}]`);
    const list = dict.get(key);
    const values: number[] = Array.isArray(list)
      ? (list as number[])
      : list instanceof NdArray
        ? Array.from(list.data, Number)
        : [];
    if (!Array.isArray(list) && !(list instanceof NdArray)) throw new Error(`${name}: no '${key}' list`);
    const n = data.shape[0]!;
    if (values.length !== n) throw new Error(`${name}: ${n} images but ${values.length} ${key}`);
    values.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0 || l >= classes)
        throw new Error(`${name}: sample ${i} has ${labels} label ${String(l)}, outside 0..${classes - 1}`);
    });
    return { images: data.data as Uint8Array, labels: values, n };
  });
  const count = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const out = new Uint8Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * IMAGE_BYTES);
    out.set(p.labels, n);
    n += p.n;
  }
  return { images, labels: out, count, classes, source: files.map((f) => f.name).join(', ') };
}
