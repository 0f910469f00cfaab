// `micronet data download`: fetches an official CIFAR archive, checks its published MD5, extracts
// it. Idempotent: a verified folder is left alone; one that fails verification is replaced.
// Nothing half-written: the archive is fetched to a temporary file and renamed once verified;
// extraction fills a temporary folder renamed whole.
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, normalize } from 'node:path';
import {
  commitTemporary,
  discardTemporary,
  removeStaleTemporaries,
  temporaryPath,
  writeError,
  writeFileAtomic,
} from '../io/atomic.js';
import {
  baseUrl,
  datasets,
  recordBytes,
  type ArchiveSpec,
  type DatasetName,
  type SplitName,
  type Version,
} from './cifar.js';
import { readSplits } from './source.js';
import { readTarGz } from './tar.js';

/** $XDG_CACHE_HOME/micronet/data, or ~/.cache/micronet/data. */
export function defaultDataDir(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'micronet', 'data');
}

/**
 * The extracted folder records the checksum of the archive it came from and each file's size, as
 * JSON. Older markers hold only the checksum; such a folder counts as unverified.
 */
const MARKER = '.micronet-md5';
interface Marker {
  md5: string;
  sizes: Record<string, number>;
}

/** What to fetch and where; by default CIFAR-100's binary version into defaultDataDir(). */
export interface DownloadOptions {
  dataset?: DatasetName;
  version?: Version;
  dir?: string;
  /** Fetch from here instead of the official URL (a mirror). */
  url?: string;
  /** Expected MD5 (default: the published one). */
  md5?: string;
  /** Expected images per split, to verify a folder extracted elsewhere (default: the official counts). */
  counts?: Record<SplitName, number>;
  /** Give up when the server has not answered, or a transfer stalls, for this long (default 15 s). */
  timeoutMs?: number;
  /** Show progress (default: when stderr is a terminal). */
  progress?: boolean;
  /** Where status lines go (default console.log). */
  log?: (line: string) => void;
}

/** What download did: found the folder verified ('present'), extracted the archive at hand, or fetched it first; and where both are. */
export interface DownloadResult {
  status: 'present' | 'extracted' | 'downloaded';
  folder: string;
  archive: string;
}

/** Hex MD5 of a file, read as a stream. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const archiveFiles = (a: ArchiveSpec) => [...a.splits.train, ...a.splits.test, ...a.extra];

function missingFiles(folder: string, a: ArchiveSpec): string | undefined {
  const missing = archiveFiles(a).filter((f) => !existsSync(join(folder, f)));
  return missing.length ? `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing` : undefined;
}

function fileSize(path: string): number | undefined {
  try {
    const s = statSync(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

function readMarker(folder: string): Marker | undefined {
  try {
    const m = JSON.parse(readFileSync(join(folder, MARKER), 'utf8')) as Partial<Marker>;
    if (typeof m.md5 === 'string' && typeof m.sizes === 'object' && m.sizes !== null) return m as Marker;
  } catch {
    /* absent, or an older marker without sizes */
  }
  return undefined;
}

/** What is wrong with a folder this command extracted, judged by the sizes it recorded. */
function checkSizes(folder: string, a: ArchiveSpec, sizes: Record<string, number>): string | undefined {
  const missing = missingFiles(folder, a);
  if (missing) return missing;
  for (const [f, want] of Object.entries(sizes)) {
    const got = fileSize(join(folder, f));
    if (got === undefined) return `${f} is missing`;
    if (got !== want) return `${f} has ${got} bytes, ${want} expected`;
  }
  return undefined;
}

/** What is wrong with a folder extracted elsewhere, judged by reading it (binary sizes are exact). */
function checkContents(
  folder: string,
  dataset: DatasetName,
  version: Version,
  counts: Record<SplitName, number>,
): string | undefined {
  const a = datasets[dataset][version];
  const missing = missingFiles(folder, a);
  if (missing) return missing;
  const splits = ['train', 'test'] as const;
  if (version === 'binary') {
    const record = recordBytes(dataset);
    for (const split of splits) {
      const files = a.splits[split];
      const sizes = files.map((f) => fileSize(join(folder, f)) ?? 0);
      // The official sets split evenly into their files; otherwise only the total can be checked.
      if (counts[split] % files.length === 0) {
        const want = (counts[split] / files.length) * record;
        const bad = sizes.findIndex((n) => n !== want);
        if (bad >= 0) return `${files[bad]} has ${sizes[bad]} bytes, ${want} expected`;
      } else {
        const got = sizes.reduce((x, y) => x + y, 0);
        if (got !== counts[split] * record)
          return `${files.join(', ')} have ${got} bytes together, ${counts[split] * record} expected`;
      }
    }
  }
  let read: ReturnType<typeof readSplits>;
  try {
    read = readSplits({ version, kind: 'folder', path: folder }, splits, { dataset });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  for (const split of splits) {
    const got = read[split]!.count;
    if (got !== counts[split])
      return `the ${split} split (${a.splits[split].join(', ')}) has ${got} images, ${counts[split]} expected`;
  }
  return undefined;
}

/** Makes sure a verified extracted copy of the dataset is in the folder, fetching and extracting the archive only when needed, never leaving anything half-written. */
export async function download(options: DownloadOptions = {}): Promise<DownloadResult> {
  const dataset = options.dataset ?? 'cifar100';
  const a = datasets[dataset][options.version ?? 'binary'];
  const dir = options.dir ?? defaultDataDir();
  const md5 = options.md5 ?? a.md5;
  const counts = options.counts ?? datasets[dataset].counts;
  const url = options.url ?? baseUrl + a.archive;
  const log = options.log ?? ((line: string) => console.log(line));
  const folder = join(dir, a.folder);
  const archive = join(dir, a.archive);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(dir, e, 'create the directory');
  }
  // Left by a download or extraction that was killed.
  removeStaleTemporaries(archive);
  removeStaleTemporaries(folder);

  if (existsSync(folder)) {
    const marker = readMarker(folder);
    let problem: string | undefined;
    if (marker?.md5 === md5) {
      problem = checkSizes(folder, a, marker.sizes);
      if (!problem) {
        log(`${folder}: already there, extracted from an archive with MD5 ${md5}, file sizes checked; nothing to do`);
        return { status: 'present', folder, archive };
      }
    } else if (!existsSync(archive)) {
      problem = checkContents(folder, dataset, options.version ?? 'binary', counts);
      if (!problem) {
        log(
          `${folder}: already there (extracted elsewhere; read, ${counts.train} training and ${counts.test} test images as expected); nothing to do`,
        );
        return { status: 'present', folder, archive };
      }
    }
    // Otherwise unverified, with the archive at hand: extracted again, which records its checksum.
    if (problem) log(`${folder}: ${problem}; replacing it from ${existsSync(archive) ? archive : url}`);
  }
  let status: DownloadResult['status'] = 'extracted';
  if (!existsSync(archive) || (await md5File(archive)) !== md5) {
    if (existsSync(archive)) log(`${archive}: MD5 differs from ${md5}; fetching it again`);
    await fetchVerified(
      url,
      archive,
      md5,
      dir,
      options.timeoutMs ?? 15000,
      options.progress ?? process.stderr.isTTY === true,
    );
    status = 'downloaded';
  }
  extract(archive, dir, a, md5);
  log(`${folder}: extracted from ${archive} (MD5 ${md5} verified)`);
  return { status, folder, archive };
}

async function fetchVerified(
  url: string,
  target: string,
  md5: string,
  dir: string,
  timeoutMs: number,
  progress: boolean,
): Promise<void> {
  const name = target.slice(dir.length + 1);
  const help = `download ${url} by other means and put it in ${dir} as ${name} (MD5 ${md5}), then run this again`;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), timeoutMs);
  const tmp = temporaryPath(target);
  // Failures of the local disk name the archive and the problem, not the temporary.
  const disk = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw writeError(target, e);
    }
  };
  let fd = -1;
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new Error(
        `could not download ${url} (${controller.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : cause}): ${help}`,
      );
    }
    if (!response.ok || !response.body) throw new Error(`could not download ${url} (HTTP ${response.status}): ${help}`);
    const total = Number(response.headers.get('content-length') ?? 0);
    const hash = createHash('md5');
    fd = disk(() => openSync(tmp, 'w', 0o644));
    let received = 0;
    let shown = 0;
    const reader = response.body.getReader();
    for (;;) {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), timeoutMs);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new Error(
          `download of ${url} broke off after ${received} bytes (${controller.signal.aborted ? 'stalled' : (e as Error).message}): ${help}`,
        );
      }
      if (chunk.done) break;
      hash.update(chunk.value);
      const bytes = chunk.value;
      disk(() => {
        for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o);
      });
      received += chunk.value.length;
      if (progress && (received - shown > 1 << 20 || received === total)) {
        shown = received;
        const mb = (n: number) => (n / 1e6).toFixed(1);
        process.stderr.write(
          `\r${name}  ${mb(received)}${total ? `/${mb(total)} MB  ${Math.floor((100 * received) / total)}%` : ' MB'}   `,
        );
      }
    }
    if (progress) process.stderr.write('\n');
    disk(() => fsyncSync(fd));
    closeSync(fd);
    fd = -1;
    const got = hash.digest('hex');
    if (got !== md5)
      throw new Error(`${url}: downloaded file has MD5 ${got}, expected ${md5} (corrupt or changed); nothing kept`);
    commitTemporary(tmp, target);
  } finally {
    clearTimeout(timer);
    if (fd >= 0) closeSync(fd);
    discardTemporary(tmp);
  }
}

/** Extracts the archive's folder into dir via a temporary folder renamed at the end. */
function extract(archive: string, dir: string, a: ArchiveSpec, md5: string): void {
  const entries = readTarGz(readFileSync(archive), archive);
  const target = join(dir, a.folder);
  // Failures of the local disk name the folder and the problem, not the temporary.
  const disk = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw writeError(target, (e as Error).cause ?? e, `extract ${archive} into`);
    }
  };
  const tmp = temporaryPath(target);
  disk(() => mkdirSync(tmp));
  try {
    const sizes: Record<string, number> = {};
    for (const e of entries) {
      const name = normalize(e.name.replace(/^\.\//, ''));
      if (!name.startsWith(`${a.folder}/`)) continue;
      const rel = name.slice(a.folder.length + 1);
      if (rel.split('/').includes('..') || rel.startsWith('/'))
        throw new Error(`${archive}: refusing entry '${e.name}' outside its folder`);
      disk(() => {
        mkdirSync(join(tmp, rel, '..'), { recursive: true });
        writeFileAtomic(join(tmp, rel), e.data);
      });
      sizes[rel] = e.data.length;
    }
    const missing = archiveFiles(a).filter((f) => !existsSync(join(tmp, f)));
    if (missing.length) throw new Error(`${archive}: has no ${missing.map((f) => `${a.folder}/${f}`).join(', ')}`);
    disk(() => writeFileAtomic(join(tmp, MARKER), Buffer.from(`${JSON.stringify({ md5, sizes } satisfies Marker)}\n`)));
    if (existsSync(target)) {
      // An incomplete or unverified folder is replaced, moved aside first so the swap is quick.
      const old = temporaryPath(target);
      disk(() => renameSync(target, old));
      disk(() => commitTemporary(tmp, target));
      discardTemporary(old);
    } else disk(() => commitTemporary(tmp, target));
  } finally {
    if (existsSync(tmp) && statSync(tmp).isDirectory()) discardTemporary(tmp);
  }
}
