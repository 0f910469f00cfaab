// Finds a CIFAR dataset in a data directory and reads its splits. Accepted, in this order: the
// folder an official binary archive extracts to, the python one, then either archive itself
// (.tar.gz, read without extracting). The directory may also be the extracted folder itself.
import { existsSync, statSync } from 'node:fs';
import { readFileNamed } from '../io/read.js';
import { join } from 'node:path';
import { parseBinary } from './binary.js';
import {
  datasets,
  type ArchiveSpec,
  type DatasetName,
  type LabelKind,
  type Split,
  type SplitName,
  type Version,
} from './cifar.js';
import { parsePython } from './python.js';
import { readTarGz } from './tar.js';

/** Where a dataset was found: which version, extracted or as its archive. */
export interface Found {
  version: Version;
  kind: 'folder' | 'archive';
  /** The folder or archive file. */
  path: string;
}

/** Which dataset (default cifar100) and which labels (default fine) to read. */
export interface LoadOptions {
  dataset?: DatasetName;
  labels?: LabelKind;
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/**
 * A split file of the archives' layout; a directory by that name (an ImageFolder tree's train/ or
 * test/) is refused by name, since micronet reads only the archives' own formats.
 */
function isSplitFile(p: string, dataset: DatasetName): boolean {
  if (!existsSync(p)) return false;
  if (statSync(p).isDirectory())
    throw new Error(
      `${p} is a directory, not a ${datasets[dataset].title} split file: micronet reads the official binary or ` +
        `python archives (extracted or not), not image-folder trees; run \`micronet data download --dataset ${dataset}\``,
    );
  return true;
}

/** Where the dataset is in dir, or an error saying how to get it there. */
export function locate(dir: string, dataset: DatasetName = 'cifar100'): Found {
  const spec = datasets[dataset];
  const versions: Version[] = ['binary', 'python'];
  for (const version of versions) {
    const a = spec[version];
    if (isDir(join(dir, a.folder))) return { version, kind: 'folder', path: join(dir, a.folder) };
    if ([...a.splits.train, ...a.splits.test].some((f) => isSplitFile(join(dir, f), dataset)))
      return { version, kind: 'folder', path: dir };
  }
  for (const version of versions) {
    const p = join(dir, spec[version].archive);
    if (existsSync(p)) return { version, kind: 'archive', path: p };
  }
  throw new Error(
    `${spec.title} not found in ${dir}: expected ${spec.binary.folder}/ or ${spec.python.folder}/ (extracted), ` +
      `or ${spec.binary.archive} or ${spec.python.archive}; run \`micronet data download --dataset ${dataset} --dir ${dir}\``,
  );
}

type Files = Record<SplitName, { name: string; bytes: Uint8Array }[]>;

function readFolder(found: Found, a: ArchiveSpec, splits: readonly SplitName[]): Partial<Files> {
  const out: Partial<Files> = {};
  for (const split of splits) {
    out[split] = a.splits[split].map((f) => {
      const p = join(found.path, f);
      if (!existsSync(p)) throw new Error(`${p}: missing (the ${split} split)`);
      return { name: p, bytes: readFileNamed(p) };
    });
  }
  return out;
}

function readArchive(found: Found, a: ArchiveSpec, splits: readonly SplitName[]): Partial<Files> {
  const entries = new Map(
    readTarGz(readFileNamed(found.path), found.path).map((e) => [e.name.replace(/^\.\//, ''), e.data]),
  );
  const out: Partial<Files> = {};
  for (const split of splits) {
    out[split] = a.splits[split].map((f) => {
      const data = entries.get(`${a.folder}/${f}`);
      if (!data) throw new Error(`${found.path}: has no ${a.folder}/${f} (the ${split} split)`);
      return { name: `${found.path}:${a.folder}/${f}`, bytes: data };
    });
  }
  return out;
}

/** Reads the named splits of the dataset found in dir (an archive is decompressed once). */
export function loadSplits(
  dir: string,
  splits: readonly SplitName[],
  options: LoadOptions = {},
): Partial<Record<SplitName, Split>> {
  return readSplits(locate(dir, options.dataset ?? 'cifar100'), splits, options);
}

/** Reads the named splits from a known folder or archive; a split without images is refused. */
export function readSplits(
  found: Found,
  splits: readonly SplitName[],
  options: LoadOptions = {},
): Partial<Record<SplitName, Split>> {
  const dataset = options.dataset ?? 'cifar100';
  const labels = options.labels ?? 'fine';
  const a = datasets[dataset][found.version];
  const files = (found.kind === 'folder' ? readFolder : readArchive)(found, a, splits);
  const parse = found.version === 'binary' ? parseBinary : parsePython;
  const out: Partial<Record<SplitName, Split>> = {};
  for (const split of splits) {
    const s = parse(files[split]!, dataset, labels);
    // Training on nothing would not fail, only report a NaN loss.
    if (s.count === 0)
      throw new Error(`${s.source}: no images (the ${split} split is empty; truncated or not extracted completely?)`);
    out[split] = s;
  }
  return out;
}

/** Reads one split of the dataset found in dir. */
export function loadSplit(dir: string, split: SplitName, options: LoadOptions = {}): Split {
  return loadSplits(dir, [split], options)[split]!;
}

/** Reads both splits of the dataset found in dir. */
export function loadDataset(dir: string, options: LoadOptions = {}): { train: Split; test: Split } {
  const s = loadSplits(dir, ['train', 'test'], options);
  return { train: s.train!, test: s.test! };
}
