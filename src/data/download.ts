// `micronet data download`: fetches an official CIFAR archive, checks its published MD5, extracts
// it. Idempotent: a verified folder is left alone. Nothing half-written: the archive is fetched
// to a temporary file and renamed once verified; extraction fills a temporary folder renamed whole.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, normalize } from 'node:path';
import { commitTemporary, temporaryPath, writeFileAtomic } from '../io/atomic.js';
import { baseUrl, datasets, type ArchiveSpec, type DatasetName, type Version } from './cifar.js';
import { readTarGz } from './tar.js';

/** $XDG_CACHE_HOME/micronet/data, or ~/.cache/micronet/data. */
export function defaultDataDir(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'micronet', 'data');
}

/** The extracted folder records the checksum of the archive it came from. */
const MARKER = '.micronet-md5';

export interface DownloadOptions {
  dataset?: DatasetName;
  version?: Version;
  dir?: string;
  /** Fetch from here instead of the official URL (a mirror). */
  url?: string;
  /** Expected MD5 (default: the published one). */
  md5?: string;
  /** Give up when the server has not answered, or a transfer stalls, for this long (default 15 s). */
  timeoutMs?: number;
  /** Show progress (default: when stderr is a terminal). */
  progress?: boolean;
  log?: (line: string) => void;
}

export interface DownloadResult { status: 'present' | 'extracted' | 'downloaded'; folder: string; archive: string }

export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function folderComplete(folder: string, a: ArchiveSpec): boolean {
  return [...a.splits.train, ...a.splits.test, ...a.extra].every((f) => existsSync(join(folder, f)));
}

export async function download(options: DownloadOptions = {}): Promise<DownloadResult> {
  const dataset = options.dataset ?? 'cifar100';
  const a = datasets[dataset][options.version ?? 'binary'];
  const dir = options.dir ?? defaultDataDir();
  const md5 = options.md5 ?? a.md5;
  const log = options.log ?? ((line: string) => console.log(line));
  const folder = join(dir, a.folder);
  const archive = join(dir, a.archive);
  mkdirSync(dir, { recursive: true });

  if (folderComplete(folder, a)) {
    const marker = join(folder, MARKER);
    if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === md5) {
      log(`${folder}: already there, extracted from an archive with MD5 ${md5}; nothing to do`);
      return { status: 'present', folder, archive };
    }
    if (!existsSync(archive)) {
      log(`${folder}: already there (extracted elsewhere, checksum not recorded); nothing to do`);
      return { status: 'present', folder, archive };
    }
  }
  let status: DownloadResult['status'] = 'extracted';
  if (!existsSync(archive) || (await md5File(archive)) !== md5) {
    if (existsSync(archive)) log(`${archive}: MD5 differs from ${md5}; fetching it again`);
    await fetchVerified(options.url ?? baseUrl + a.archive, archive, md5, dir, options.timeoutMs ?? 15000, options.progress ?? process.stderr.isTTY === true);
    status = 'downloaded';
  }
  extract(archive, dir, a, md5);
  log(`${folder}: extracted from ${archive} (MD5 ${md5} verified)`);
  return { status, folder, archive };
}

async function fetchVerified(url: string, target: string, md5: string, dir: string, timeoutMs: number, progress: boolean): Promise<void> {
  const name = target.slice(dir.length + 1);
  const help = `download ${url} by other means and put it in ${dir} as ${name} (MD5 ${md5}), then run this again`;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), timeoutMs);
  const tmp = temporaryPath(target);
  let fd = -1;
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new Error(`could not download ${url} (${controller.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : cause}): ${help}`);
    }
    if (!response.ok || !response.body) throw new Error(`could not download ${url} (HTTP ${response.status}): ${help}`);
    const total = Number(response.headers.get('content-length') ?? 0);
    const hash = createHash('md5');
    fd = openSync(tmp, 'w', 0o644);
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
        throw new Error(`download of ${url} broke off after ${received} bytes (${controller.signal.aborted ? 'stalled' : (e as Error).message}): ${help}`);
      }
      if (chunk.done) break;
      hash.update(chunk.value);
      for (let o = 0; o < chunk.value.length;) o += writeSync(fd, chunk.value, o);
      received += chunk.value.length;
      if (progress && (received - shown > 1 << 20 || received === total)) {
        shown = received;
        const mb = (n: number) => (n / 1e6).toFixed(1);
        process.stderr.write(`\r${name}  ${mb(received)}${total ? `/${mb(total)} MB  ${Math.floor((100 * received) / total)}%` : ' MB'}   `);
      }
    }
    if (progress) process.stderr.write('\n');
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    const got = hash.digest('hex');
    if (got !== md5) throw new Error(`${url}: downloaded file has MD5 ${got}, expected ${md5} (corrupt or changed); nothing kept`);
    commitTemporary(tmp, target);
  } finally {
    clearTimeout(timer);
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
  }
}

/** Extracts the archive's folder into dir via a temporary folder renamed at the end. */
function extract(archive: string, dir: string, a: ArchiveSpec, md5: string): void {
  const entries = readTarGz(readFileSync(archive), archive);
  const tmp = temporaryPath(join(dir, a.folder));
  mkdirSync(tmp);
  try {
    for (const e of entries) {
      const name = normalize(e.name.replace(/^\.\//, ''));
      if (!name.startsWith(a.folder + '/')) continue;
      const rel = name.slice(a.folder.length + 1);
      if (rel.split('/').includes('..') || rel.startsWith('/')) throw new Error(`${archive}: refusing entry '${e.name}' outside its folder`);
      mkdirSync(join(tmp, rel, '..'), { recursive: true });
      writeFileAtomic(join(tmp, rel), e.data);
    }
    if (!folderComplete(tmp, a)) {
      const missing = [...a.splits.train, ...a.splits.test, ...a.extra].filter((f) => !existsSync(join(tmp, f)));
      throw new Error(`${archive}: has no ${missing.map((f) => `${a.folder}/${f}`).join(', ')}`);
    }
    writeFileAtomic(join(tmp, MARKER), Buffer.from(md5 + '\n'));
    const target = join(dir, a.folder);
    if (existsSync(target)) {
      // An incomplete or unverified folder is replaced, moved aside first so the swap is quick.
      const old = temporaryPath(target);
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, target);
  } finally {
    if (existsSync(tmp) && statSync(tmp).isDirectory()) rmSync(tmp, { recursive: true, force: true });
  }
}
