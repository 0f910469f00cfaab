// What the official CIFAR archives hold: names, checksums, file layout, record formats.

/** The datasets micronet reads. */
/** The data sets micronet reads, in the order commands list them. */
export const datasetNames = ['cifar100', 'cifar10'] as const;
export type DatasetName = (typeof datasetNames)[number];
/** The two official archive formats: binary records, or Python pickles. */
export type Version = 'binary' | 'python';
/** The two splits of each dataset. */
export type SplitName = 'train' | 'test';
/** CIFAR-100's label sets: 100 fine classes, 20 coarse superclasses. */
export type LabelKind = 'fine' | 'coarse';

/** One official archive of a dataset. */
export interface ArchiveSpec {
  /** The archive's file name, also the last part of its URL. */
  archive: string;
  /** MD5 of the archive, as published. */
  md5: string;
  /** The folder the archive extracts to. */
  folder: string;
  /** Files of each split, inside the folder, in order. */
  splits: Record<SplitName, string[]>;
  /** Other files the archive holds (label names). */
  extra: string[];
}

/** A dataset: its classes, sizes and both archives. */
export interface DatasetSpec {
  /** The dataset's name in micronet. */
  name: DatasetName;
  /** Its usual name, for messages, e.g. "CIFAR-100". */
  title: string;
  /** Number of classes per label kind (CIFAR-10 has only 'fine' labels, read as its 'labels'). */
  classes: Partial<Record<LabelKind, number>>;
  /** Samples per split, for checking extracted files. */
  counts: Record<SplitName, number>;
  /** The binary version's archive. */
  binary: ArchiveSpec;
  /** The Python version's archive. */
  python: ArchiveSpec;
}

/** Where the official archives are published. */
export const baseUrl = 'https://www.cs.toronto.edu/~kriz/';
/** Bytes of one 3x32x32 uint8 image. */
export const IMAGE_BYTES = 3072;

/** The datasets and their official archives. */
export const datasets: Record<DatasetName, DatasetSpec> = {
  cifar100: {
    name: 'cifar100',
    title: 'CIFAR-100',
    classes: { fine: 100, coarse: 20 },
    counts: { train: 50000, test: 10000 },
    binary: {
      archive: 'cifar-100-binary.tar.gz',
      md5: '03b5dce01913d631647c71ecec9e9cb8',
      folder: 'cifar-100-binary',
      splits: { train: ['train.bin'], test: ['test.bin'] },
      extra: ['coarse_label_names.txt', 'fine_label_names.txt'],
    },
    python: {
      archive: 'cifar-100-python.tar.gz',
      md5: 'eb9058c3a382ffc7106e4002c42a8d85',
      folder: 'cifar-100-python',
      splits: { train: ['train'], test: ['test'] },
      extra: ['meta'],
    },
  },
  cifar10: {
    name: 'cifar10',
    title: 'CIFAR-10',
    classes: { fine: 10 },
    counts: { train: 50000, test: 10000 },
    binary: {
      archive: 'cifar-10-binary.tar.gz',
      md5: 'c32a1d4ab5d03f1284b67883e8d87530',
      folder: 'cifar-10-batches-bin',
      splits: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] },
      extra: ['batches.meta.txt'],
    },
    python: {
      archive: 'cifar-10-python.tar.gz',
      md5: 'c58f30108f718f92721af3b95e74349a',
      folder: 'cifar-10-batches-py',
      splits: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}`), test: ['test_batch'] },
      extra: ['batches.meta'],
    },
  },
};

/** Bytes of one binary record: label byte(s) then the image. CIFAR-100 stores coarse then fine. */
export function recordBytes(name: DatasetName): number {
  return (name === 'cifar100' ? 2 : 1) + IMAGE_BYTES;
}

/** One split in memory: images as N x 3072 bytes (CHW: R plane, G plane, B plane, row-major). */
export interface Split {
  /** count x 3072 bytes. */
  images: Uint8Array;
  /** One class index per image. */
  labels: Uint8Array;
  /** Number of samples. */
  count: number;
  /** Number of classes of the labels read. */
  classes: number;
  /** Where it was read from, for messages. */
  source: string;
}

/** Number of classes of a dataset's label kind; throws for a kind it lacks (CIFAR-10 has no coarse labels). */
export function classCount(name: DatasetName, labels: LabelKind): number {
  const n = datasets[name].classes[labels];
  if (n === undefined) throw new Error(`${datasets[name].title} has no ${labels} labels`);
  return n;
}
