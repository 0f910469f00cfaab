// A run directory: the files a run writes there, and its lock. It is written by one process at a
// time: an exclusive lock file holds the owner's pid and host, a lock whose process has gone is
// stale and taken over, and a directory that this process created is removed again when the run
// fails before writing anything into it.
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { printable } from '../text.js';
import { join } from 'node:path';
import {
  discardTemporary,
  possiblePid,
  processAlive,
  temporaryPath,
  writeError,
  writeFileAtomic,
} from '../io/atomic.js';

/** The checkpoint written after every epoch, and what --resume continues from. */
export const lastCheckpoint = (outDir: string) => join(outDir, 'last.safetensors');
/** The checkpoint of the epoch with the best test top-1 among those after the last pruning event (and quantized ones once quantization-aware training starts). */
export const bestCheckpoint = (outDir: string) => join(outDir, 'best.safetensors');
/** The integer checkpoint a completed quantization-aware run writes. */
export const quantizedCheckpoint = (outDir: string) => join(outDir, 'quantized.safetensors');
/** The metrics of every finished epoch, one JSON line each (metrics.ts), rewritten after every epoch. */
export const metricsFile = (outDir: string) => join(outDir, 'metrics.jsonl');

/** The run's identity, written when it starts: its training checkpoints carry the same id. */
export const identityFile = (outDir: string) => join(outDir, 'run.json');

/** A run id: a random UUID. */
export const isRunId = (v: unknown): v is string =>
  typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v);

/** The id in a run directory's run.json; null without one (runs of earlier releases). Throws when it is damaged. */
export function readRunId(dir: string): string | null {
  const path = identityFile(dir);
  if (!existsSync(path)) return null;
  let id: unknown;
  try {
    id = (JSON.parse(readFileSync(path, 'utf8')) as { id?: unknown }).id;
  } catch (e) {
    throw new Error(`${path} is damaged: ${(e as Error).message}`);
  }
  if (!isRunId(id)) throw new Error(`${path} is damaged: no run id in it`);
  return id;
}

/** Writes a run directory's run.json (atomically). */
export function writeRunId(dir: string, id: string): void {
  writeFileAtomic(identityFile(dir), new TextEncoder().encode(`${JSON.stringify({ id })}\n`));
}

/** The lock file's name inside a run directory. */
export const lockFileName = '.lock';

/** Another live process holds the run directory's lock. */
export class RunLockedError extends Error {}

interface Holder {
  pid: number;
  host: string;
  since: string;
}

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * A holder whose process is gone: on this host, or on any host when its pid cannot be a process's;
 * a live-looking lock of another host cannot be judged from here.
 */
const isStale = (h: Holder | null) =>
  h !== null && (!possiblePid(h.pid) || (h.host === hostname() && h.pid !== process.pid && !processAlive(h.pid)));

/** Who holds a run directory's lock, and whether that process is known to be alive (null: on another host). */
export function runHolder(dir: string): (Holder & { alive: boolean | null }) | null {
  const h = readHolder(join(dir, lockFileName));
  return h && { ...h, alive: h.host === hostname() ? processAlive(h.pid) : null };
}

/** A run directory locked by this process until release() (or the process's exit). */
export class RunDirectory {
  readonly #lock: string;
  readonly #created: boolean;
  #released = false;
  readonly #onExit = () => this.release();

  private constructor(
    readonly dir: string,
    created: boolean,
  ) {
    this.#lock = join(dir, lockFileName);
    this.#created = created;
  }

  /** Creates the directory if needed and takes its lock, or throws RunLockedError naming the holder. */
  static open(dir: string): RunDirectory {
    const created = !existsSync(dir);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw writeError(dir, e, 'create the run directory');
    }
    const run = new RunDirectory(dir, created);
    try {
      run.#acquire();
    } catch (e) {
      if (created) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    process.on('exit', run.#onExit);
    return run;
  }

  #acquire(): void {
    const mine: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    // Written whole beside the lock, then linked into place: the lock never exists half-written,
    // and link fails if another process holds it.
    const tmp = temporaryPath(this.#lock);
    try {
      try {
        writeFileSync(tmp, `${JSON.stringify(mine)}\n`);
      } catch (e) {
        throw writeError(this.dir, e, 'lock the run directory');
      }
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, this.#lock);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
            throw new Error(`cannot lock the run directory ${this.dir}: ${(e as Error).message}`);
        }
        const holder = readHolder(this.#lock);
        if (attempt < 3 && isStale(holder) && this.#removeStale()) continue;
        throw new RunLockedError(
          holder
            ? `${this.dir} is in use by process ${holder.pid} on ${printable(holder.host)} (since ${printable(String(holder.since))}): one run at a time writes a run directory. ` +
                `If that process is gone, delete ${this.#lock}.`
            : `${this.dir} is locked (${this.#lock} exists but cannot be read): if no run is writing there, delete it.`,
        );
      }
    } finally {
      discardTemporary(tmp);
    }
  }

  /** Moves a stale lock aside; puts it back if another process took the lock meanwhile. */
  #removeStale(): boolean {
    const aside = temporaryPath(this.#lock);
    try {
      renameSync(this.#lock, aside);
    } catch {
      return true; // gone already: try again
    }
    const moved = readHolder(aside);
    if (isStale(moved)) {
      discardTemporary(aside);
      return true;
    }
    try {
      linkSync(aside, this.#lock);
    } catch {
      /* a third process holds it now */
    }
    discardTemporary(aside);
    return false;
  }

  /**
   * Gives up the lock. A directory this process created and that holds nothing else (the run
   * failed before its first write) is removed.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    process.off('exit', this.#onExit);
    if (readHolder(this.#lock)?.pid === process.pid) rmSync(this.#lock, { force: true });
    if (this.#created) {
      try {
        if (readdirSync(this.dir).length === 0) rmdirSync(this.dir);
      } catch {
        /* already gone, or no longer ours to judge */
      }
    }
  }
}
