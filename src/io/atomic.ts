// Atomic file writes: a reader sees the old file or the new one, never a part; a crash leaves at
// most a stray temporary beside the target, removed by the next write to the same place.
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The temporaries this process has named and not yet committed or removed: exit removes them. */
const live = new Set<string>();
process.on('exit', () => {
  for (const tmp of live) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      /* best effort: the process is ending */
    }
  }
});

/**
 * A fresh temporary name beside path (`.<name>.<pid>.<hex>.tmp`); stale ones of path go first.
 * Whatever is left under the name when the process exits (an error, process.exit, a signal that
 * the CLI turns into an exit) is removed then.
 */
export function temporaryPath(path: string): string {
  removeStaleTemporaries(path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  live.add(tmp);
  return tmp;
}

/** Removes a temporary (file or folder) now. */
export function discardTemporary(tmp: string): void {
  live.delete(tmp);
  rmSync(tmp, { recursive: true, force: true });
}

/** Whether a process with this pid runs on this machine. */
/** Whether a number can be a process id: an integer in 1..2^22 (Linux's largest). */
export const possiblePid = (pid: number) => Number.isInteger(pid) && pid >= 1 && pid <= 2 ** 22;

export function processAlive(pid: number): boolean {
  // -1 and 0 would address every process or the group, and Linux has no pid above 2^22.
  if (!possiblePid(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes temporaries of path (files or folders) left by writers that are no longer running. */
export function removeStaleTemporaries(path: string): void {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // no directory to clean; the write itself will say what is wrong
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmSync(join(dirname(path), name), { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}

const wordsFor: Record<string, string> = {
  EACCES: 'permission denied (is the directory read-only?)',
  EPERM: 'permission denied (is the directory read-only?)',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'it is a directory',
};

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Why writing path failed with e, in words; node's message when there are none. */
export function writeProblem(path: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const dir = dirname(path);
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EEXIST') {
    // Name the part of the path that is wrong: the deepest ancestor that is a file, or a missing
    // directory. (EEXIST: a directory was to be made where a file is.)
    for (let p = err.code === 'EEXIST' ? path : dir; ; p = dirname(p)) {
      if (existsSync(p) && !isDirectory(p)) return `${p} is not a directory`;
      if (dirname(p) === p) break;
    }
    if (!existsSync(dir)) return `the directory ${dir} does not exist`;
    // The directory is there: a denied write has been seen reported as ENOENT, so ask directly.
    try {
      accessSync(dir, constants.W_OK);
    } catch (a) {
      const code = (a as NodeJS.ErrnoException).code;
      if (code && wordsFor[code]) return wordsFor[code]!;
    }
  }
  return (err.code && wordsFor[err.code]) || (e instanceof Error ? e.message : String(e));
}

/** An error for a failed write of path: the file and the problem in words, the original as its cause. */
export function writeError(path: string, e: unknown, what = 'write'): Error {
  return new Error(`cannot ${what} ${path}: ${writeProblem(path, e)}`, { cause: e });
}

/** Node's errors from the file system carry the call that failed; anything else is a bug, passed on. */
function isSystemError(e: unknown): boolean {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the chunks to path via a temporary file, fsync and rename. */
export function writeFileAtomic(path: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const tmp = temporaryPath(path);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', 0o644);
    for (const chunk of chunks instanceof Uint8Array ? [chunks] : chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
    live.delete(tmp);
  } catch (e) {
    // Clean up without hiding the first error behind a later one.
    try {
      if (fd >= 0) closeSync(fd);
    } catch {
      /* already failing */
    }
    try {
      discardTemporary(tmp);
    } catch {
      /* already failing */
    }
    throw isSystemError(e) ? writeError(path, e) : e;
  }
  try {
    fsyncDirectory(dirname(path));
  } catch (e) {
    throw isSystemError(e) ? writeError(path, e) : e;
  }
}

/** Moves a finished temporary (a download, an extracted folder's file) into place atomically. */
export function commitTemporary(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
    live.delete(tmp);
    fsyncDirectory(dirname(path));
  } catch (e) {
    throw isSystemError(e) ? writeError(path, e) : e;
  }
}
