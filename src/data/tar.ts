// Reading and writing .tar.gz archives: gunzip with node:zlib, tar (ustar, with GNU long names
// and pax headers) parsed here. Enough for the CIFAR archives; regular files only.
import { gunzipSync, gzipSync } from 'node:zlib';

/** A regular file of an archive: its path inside and its bytes. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
}

function text(b: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
}

function octal(b: Uint8Array, start: number, length: number, file: string): number {
  const s = text(b, start, length).trim();
  if (!/^[0-7]*$/.test(s)) throw new Error(`${file}: not a tar archive (bad header field '${s}')`);
  return s === '' ? 0 : parseInt(s, 8);
}

/** Gunzips a .tar.gz; a truncated or corrupt archive is reported with its name. */
function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `${file}: ${/unexpected end/i.test(why) ? 'truncated archive' : 'not a valid gzip archive'} (${why})`,
    );
  }
}

/** The regular files of an uncompressed tar, their data as views into `tar`. */
function untar(tar: Uint8Array, file: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | null = null;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return entries; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== octal(header, 148, 8, file)) throw new Error(`${file}: corrupt tar header at byte ${offset}`);
    const size = octal(header, 124, 12, file);
    const type = String.fromCharCode(header[156]!);
    const start = offset + 512;
    if (start + size > tar.length)
      throw new Error(
        `${file}: truncated archive (entry '${longName ?? text(header, 0, 100)}' needs ${size} bytes, ${tar.length - start} left)`,
      );
    const data = tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = text(data, 0, size);
      continue;
    }
    if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      if (path) longName = path[1]!;
      continue;
    }
    const prefix = text(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    longName = null;
    if (type === '0' || type === '\0') entries.push({ name, data });
  }
  throw new Error(`${file}: truncated archive (no end-of-archive marker)`);
}

/** The regular files of a .tar.gz, in archive order; `file` names it in errors. */
export function readTarGz(bytes: Uint8Array, file: string): TarEntry[] {
  return untar(gunzip(bytes, file), file);
}

function field(header: Uint8Array, start: number, length: number, value: string): void {
  header.set(Buffer.from(value, 'utf8').subarray(0, length), start);
}

/** A .tar.gz holding the given files (ustar; names up to 100 bytes). */
export function writeTarGz(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const { name, data } of entries) {
    if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
    const h = new Uint8Array(512);
    field(h, 0, 100, name);
    field(h, 100, 8, '0000644');
    field(h, 108, 8, '0000000');
    field(h, 116, 8, '0000000');
    field(h, 124, 12, data.length.toString(8).padStart(11, '0'));
    field(h, 136, 12, '00000000000');
    h[156] = '0'.charCodeAt(0);
    field(h, 257, 6, 'ustar');
    field(h, 263, 2, '00');
    h.fill(32, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return gzipSync(Buffer.concat(parts));
}
