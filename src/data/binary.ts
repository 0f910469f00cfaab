// The binary CIFAR format: fixed-size records of label byte(s) then 3072 pixel bytes.
import { classCount, IMAGE_BYTES, recordBytes, type DatasetName, type LabelKind, type Split } from './cifar.js';

/** Parses the records of one or more .bin files (concatenated in order) into a split. */
export function parseBinary(
  files: readonly { name: string; bytes: Uint8Array }[],
  dataset: DatasetName,
  labels: LabelKind = 'fine',
): Split {
  const record = recordBytes(dataset);
  const classes = classCount(dataset, labels);
  // CIFAR-100 records: coarse label, fine label; CIFAR-10: label.
  const labelAt = dataset === 'cifar100' ? (labels === 'coarse' ? 0 : 1) : 0;
  let count = 0;
  for (const f of files) {
    if (f.bytes.length % record !== 0)
      throw new Error(
        `${f.name}: ${f.bytes.length} bytes is not a whole number of ${record}-byte records (truncated or not a ${dataset} binary file)`,
      );
    count += f.bytes.length / record;
  }
  const images = new Uint8Array(count * IMAGE_BYTES);
  const out = new Uint8Array(count);
  let n = 0;
  for (const f of files) {
    const b = f.bytes;
    for (let r = 0; r < b.length; r += record, n++) {
      const label = b[r + labelAt]!;
      if (label >= classes)
        throw new Error(`${f.name}: record ${r / record} has ${labels} label ${label}, outside 0..${classes - 1}`);
      out[n] = label;
      images.set(b.subarray(r + record - IMAGE_BYTES, r + record), n * IMAGE_BYTES);
    }
  }
  return { images, labels: out, count, classes, source: files.map((f) => f.name).join(', ') };
}

/** Writes a split as binary records (CIFAR-100 needs both label kinds). */
export function encodeBinary(
  dataset: DatasetName,
  images: Uint8Array,
  fine: Uint8Array,
  coarse?: Uint8Array,
): Uint8Array {
  const record = recordBytes(dataset);
  const n = fine.length;
  const out = new Uint8Array(n * record);
  for (let i = 0; i < n; i++) {
    const r = i * record;
    if (dataset === 'cifar100') {
      out[r] = coarse![i]!;
      out[r + 1] = fine[i]!;
    } else out[r] = fine[i]!;
    out.set(images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), r + record - IMAGE_BYTES);
  }
  return out;
}
