// Atomic file writes: a reader sees the old file or the new one, never a part; a crash leaves at
// most a stray temporary beside the target.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Writes the chunks to path via a temporary file, fsync and rename. */
export function writeFileAtomic(path: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const tmp = temporaryPath(path);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (const chunk of chunks instanceof Uint8Array ? [chunks] : chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDirectory(dirname(path));
}

/** Moves a finished temporary (a download, an extracted folder's file) into place atomically. */
export function commitTemporary(tmp: string, path: string): void {
  renameSync(tmp, path);
  fsyncDirectory(dirname(path));
}
