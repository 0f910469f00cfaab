// Small synthetic CIFAR-like data sets in the official formats, for tests and demos. Each class
// has a colour and a stripe texture (orientation, frequency); each image draws its phase,
// contrast and pixel noise, so classes are learnable but not trivially separable by one pixel.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { temporaryPath, writeFileAtomic } from '../io/atomic.js';
import { encodeBinary } from './binary.js';
import {
  classCount,
  datasets,
  IMAGE_BYTES,
  type DatasetName,
  type Split,
  type SplitName,
  type Version,
} from './cifar.js';
import { encodePickle, type PickleOut } from './pickle-write.js';
import { Purpose, Rng } from './rng.js';
import { writeTarGz, type TarEntry } from './tar.js';

/** Synthetic images (N x 3072 bytes, CHW) with fine labels and coarse ones (fine / 5). */
interface SyntheticSplit {
  images: Uint8Array;
  fine: Uint8Array;
  coarse: Uint8Array;
}

/** count synthetic samples of a split, the same for the same (dataset, seed, split). */
export function syntheticSplit(dataset: DatasetName, count: number, seed: number, split: SplitName): SyntheticSplit {
  const classes = classCount(dataset, 'fine');
  const templates = Array.from({ length: classes }, (_, k) => {
    const r = new Rng(Purpose.synthetic, seed, -1, k);
    return {
      colour: [0, 1, 2].map(() => r.uniform(50, 205)),
      tint: [0, 1, 2].map(() => r.uniform(-1, 1)),
      angle: r.uniform(0, Math.PI),
      freq: r.uniform(0.25, 1.2),
    };
  });
  const images = new Uint8Array(count * IMAGE_BYTES);
  const fine = new Uint8Array(count);
  const coarse = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const r = new Rng(Purpose.synthetic, seed, split === 'train' ? 0 : 1, i);
    const k = r.int(0, classes);
    const t = templates[k]!;
    fine[i] = k;
    coarse[i] = Math.floor(k / 5);
    const phase = r.uniform(0, 2 * Math.PI),
      amp = r.uniform(25, 50),
      shift = r.uniform(-20, 20);
    const ca = Math.cos(t.angle) * t.freq,
      sa = Math.sin(t.angle) * t.freq;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          const v = t.colour[c]! + shift + amp * t.tint[c]! * Math.sin(ca * x + sa * y + phase) + 18 * r.normal();
          images[i * IMAGE_BYTES + c * 1024 + y * 32 + x] = Math.max(0, Math.min(255, Math.round(v)));
        }
  }
  return { images, fine, coarse };
}

/** A generated CIFAR-100 split as the loader takes it (fine labels): data for runs and benchmarks without the real set. */
export function generatedSplit(count: number, seed: number, split: SplitName): Split {
  const s = syntheticSplit('cifar100', count, seed, split);
  return {
    images: s.images,
    labels: s.fine,
    count,
    classes: classCount('cifar100', 'fine'),
    source: `synthetic ${split}`,
  };
}

/** What writeSynthetic writes: by default 1000 training and 200 test images of CIFAR-100, seed 0, binary version. */
export interface WriteSyntheticOptions {
  dataset?: DatasetName;
  train?: number;
  test?: number;
  seed?: number;
  /** Which official versions to write (default binary). */
  versions?: Version[];
  /** Also write the .tar.gz archives (as downloaded), besides the extracted folders. */
  archives?: boolean;
}

/** The files of one version of a synthetic data set, named as in the official archive. */
function syntheticFiles(dataset: DatasetName, version: Version, splits: Record<SplitName, SyntheticSplit>): TarEntry[] {
  const a = datasets[dataset][version];
  const classes = classCount(dataset, 'fine');
  const names = Array.from({ length: classes }, (_, k) => `class_${k}`);
  const coarseNames = Array.from({ length: 20 }, (_, k) => `superclass_${k}`);
  const files: TarEntry[] = [];
  for (const split of ['train', 'test'] as const) {
    const s = splits[split];
    const parts = a.splits[split];
    const per = Math.ceil(s.fine.length / parts.length);
    parts.forEach((file, p) => {
      const lo = Math.min(p * per, s.fine.length),
        hi = Math.min(lo + per, s.fine.length);
      const images = s.images.subarray(lo * IMAGE_BYTES, hi * IMAGE_BYTES),
        fine = s.fine.subarray(lo, hi),
        coarse = s.coarse.subarray(lo, hi);
      let data: Uint8Array;
      if (version === 'binary') data = encodeBinary(dataset, images, fine, coarse);
      else {
        const labels: Record<string, PickleOut> =
          dataset === 'cifar100' ? { fine_labels: [...fine], coarse_labels: [...coarse] } : { labels: [...fine] };
        data = encodePickle({
          batch_label: `synthetic ${split} batch ${p + 1}`,
          ...labels,
          data: { shape: [hi - lo, IMAGE_BYTES], u8: images },
          filenames: Array.from({ length: hi - lo }, (_, i) => `synthetic_${lo + i}.png`),
        });
      }
      files.push({ name: `${a.folder}/${file}`, data });
    });
  }
  const meta = (file: string): Uint8Array => {
    if (version === 'binary') return Buffer.from(`${(file.startsWith('coarse') ? coarseNames : names).join('\n')}\n`);
    return dataset === 'cifar100'
      ? encodePickle({ fine_label_names: names, coarse_label_names: coarseNames })
      : encodePickle({ label_names: names, num_cases_per_batch: per(splits.train.fine.length), num_vis: IMAGE_BYTES });
  };
  const per = (n: number) => Math.ceil(n / a.splits.train.length);
  for (const file of a.extra) files.push({ name: `${a.folder}/${file}`, data: meta(file) });
  return files;
}

/**
 * The file writeSynthetic leaves beside a generated set: generated images are laid out exactly as
 * the real ones, so without it nothing could tell a run on them from a run on CIFAR.
 */
export const generatedMarker = 'micronet-generated.json';

/** Where a run's data came from: its directory, and whether writeSynthetic generated it. */
export interface DataSource {
  dir: string;
  generated: boolean;
}

/** Whether `dir` holds a generated set (its marker file) or, as far as micronet can tell, the real data. */
export function describeData(dir: string): DataSource {
  return { dir, generated: existsSync(join(dir, generatedMarker)) };
}

/** A data source in words: "generated data in DIR" or "real data in DIR". */
export const dataSourceText = (d: DataSource) => `${d.generated ? 'generated' : 'real'} data in ${d.dir}`;

/** Writes a synthetic data set into dir as the official archives extract (and optionally the archives). */
export function writeSynthetic(dir: string, options: WriteSyntheticOptions = {}): string[] {
  const dataset = options.dataset ?? 'cifar100';
  const seed = options.seed ?? 0;
  const splits = {
    train: syntheticSplit(dataset, options.train ?? 1000, seed, 'train'),
    test: syntheticSplit(dataset, options.test ?? 200, seed, 'test'),
  };
  mkdirSync(dir, { recursive: true });
  // The marker comes first: a set interrupted half-written is still never taken for the real one.
  writeFileAtomic(
    join(dir, generatedMarker),
    new TextEncoder().encode(
      `${JSON.stringify({ generator: 'micronet writeSynthetic', dataset, seed, train: splits.train.fine.length, test: splits.test.fine.length })}\n`,
    ),
  );
  const written: string[] = [];
  for (const version of options.versions ?? ['binary']) {
    const a = datasets[dataset][version];
    const files = syntheticFiles(dataset, version, splits);
    // A whole folder appears at once: written under a temporary name, then renamed.
    const tmp = temporaryPath(join(dir, a.folder));
    mkdirSync(tmp);
    for (const f of files) writeFileAtomic(join(tmp, f.name.slice(a.folder.length + 1)), f.data);
    const target = join(dir, a.folder);
    if (existsSync(target)) rmSync(target, { recursive: true });
    renameSync(tmp, target);
    written.push(target);
    if (options.archives) {
      writeFileAtomic(join(dir, a.archive), writeTarGz(files));
      written.push(join(dir, a.archive));
    }
  }
  return written;
}
