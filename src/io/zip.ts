// ZIP archives (what torch.save writes): reading the central directory, ZIP64, stored or deflated
// entries, CRC-checked; writing stored, aligned entries.
import { crc32, inflateRawSync } from 'node:zlib';

/** An entry of the central directory: its compression method (0 stored, 8 deflated), sizes, CRC-32 and where its local header is. */
interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localOffset: number;
}

/** A ZIP archive in memory: the directory is read and checked on construction, entries on read(). */
export class ZipReader {
  /** The entries by name. */
  readonly entries = new Map<string, ZipEntry>();
  readonly #view: DataView;

  constructor(
    readonly data: Uint8Array,
    readonly what: string,
  ) {
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#readDirectory();
  }

  #fail(problem: string): never {
    throw new Error(`${this.what}: ${problem}`);
  }

  #u16(at: number): number {
    this.#need(at, 2);
    return this.#view.getUint16(at, true);
  }
  #u32(at: number): number {
    this.#need(at, 4);
    return this.#view.getUint32(at, true);
  }
  #u64(at: number): number {
    this.#need(at, 8);
    const v = this.#view.getBigUint64(at, true);
    if (v > BigInt(this.data.byteLength)) this.#fail('corrupt ZIP64 field (beyond the file)');
    return Number(v);
  }
  #need(at: number, n: number): void {
    if (at < 0 || at + n > this.data.byteLength) this.#fail('truncated or corrupt ZIP archive');
  }

  #readDirectory(): void {
    const d = this.data;
    let eocd = -1;
    for (let i = d.byteLength - 22; i >= Math.max(0, d.byteLength - 22 - 65535); i--) {
      if (d[i] === 0x50 && d[i + 1] === 0x4b && d[i + 2] === 0x05 && d[i + 3] === 0x06) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.#fail('not a ZIP archive (no end-of-central-directory record; truncated?)');
    let count = this.#u16(eocd + 10);
    let offset = this.#u32(eocd + 16);
    if (count === 0xffff || offset === 0xffffffff) {
      const locator = eocd - 20;
      if (this.#u32(locator) !== 0x07064b50) this.#fail('ZIP64 locator missing');
      const record = this.#u64(locator + 8);
      if (this.#u32(record) !== 0x06064b50) this.#fail('ZIP64 end record missing');
      count = this.#u64(record + 32);
      offset = this.#u64(record + 48);
    }
    let p = offset;
    for (let i = 0; i < count; i++) {
      if (this.#u32(p) !== 0x02014b50) this.#fail(`corrupt central directory entry ${i}`);
      const method = this.#u16(p + 10);
      const crc = this.#u32(p + 16);
      let compressedSize = this.#u32(p + 20);
      let size = this.#u32(p + 24);
      const nameLength = this.#u16(p + 28);
      const extraLength = this.#u16(p + 30);
      const commentLength = this.#u16(p + 32);
      let localOffset = this.#u32(p + 42);
      this.#need(p + 46, nameLength + extraLength);
      const name = new TextDecoder().decode(d.subarray(p + 46, p + 46 + nameLength));
      // ZIP64 extended information replaces the fields saturated at 0xffffffff, in this order.
      for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength; ) {
        const id = this.#u16(e);
        const len = this.#u16(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = this.#u64(q);
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = this.#u64(q);
            q += 8;
          }
          if (localOffset === 0xffffffff) {
            localOffset = this.#u64(q);
            q += 8;
          }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, crc, localOffset });
      p += 46 + nameLength + extraLength + commentLength;
    }
  }

  /**
   * The entry's bytes (a view for stored entries), checked against its CRC. Entries declaring
   * more than `maxSize` bytes are refused before anything is inflated, and inflation stops at the
   * declared size, so a lying directory cannot make it allocate more.
   */
  read(name: string, options: { maxSize?: number } = {}): Uint8Array {
    const e = this.entries.get(name);
    if (!e) this.#fail(`no entry '${name}' in the archive`);
    if (options.maxSize !== undefined && e.size > options.maxSize) {
      this.#fail(`entry '${name}' declares ${e.size} bytes, more than the ${options.maxSize} accepted`);
    }
    const local = e.localOffset;
    if (this.#u32(local) !== 0x04034b50) this.#fail(`corrupt local header of '${name}'`);
    const start = local + 30 + this.#u16(local + 26) + this.#u16(local + 28);
    this.#need(start, e.compressedSize);
    const raw = this.data.subarray(start, start + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) out = raw;
    else if (e.method === 8) {
      try {
        out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        const code = (err as { code?: string }).code;
        this.#fail(
          code === 'ERR_BUFFER_TOO_LARGE'
            ? `entry '${name}' inflates to more than the ${e.size} bytes its directory declares`
            : `cannot inflate '${name}' (corrupt compressed data)`,
        );
      }
    } else this.#fail(`entry '${name}' uses unsupported compression method ${e.method}`);
    if (out.byteLength !== e.size)
      this.#fail(`entry '${name}' has ${out.byteLength} bytes, the directory says ${e.size}`);
    if (crc32(out) >>> 0 !== e.crc >>> 0) this.#fail(`entry '${name}' fails its CRC check (corrupt file)`);
    return out;
  }
}

/** Entries' data start on multiples of this (as torch.save aligns them, so that readers may map them). */
const zipAlignment = 64;

/**
 * A ZIP archive of stored (uncompressed) entries, as chunks; each entry's data aligned to 64 bytes
 * by a padding extra field. Archives past 4 GiB or 65,535 entries would need ZIP64 and are refused.
 */
export function encodeZip(entries: readonly { name: string; data: Uint8Array }[]): Uint8Array[] {
  // The end record counts entries in 16 bits: more would need ZIP64 too, not a silently wrong count.
  if (entries.length > 0xffff)
    throw new Error(`a ZIP archive of ${entries.length} entries needs ZIP64, which this writer does not write`);
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const pad = (zipAlignment - ((offset + 30 + nameBytes.length + 4) % zipAlignment)) % zipAlignment;
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30 + nameBytes.length + 4 + pad);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x800, 6); // names are UTF-8
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.byteLength, 18);
    local.writeUInt32LE(data.byteLength, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    nameBytes.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + nameBytes.length); // a private padding field, as torch.save writes
    local.writeUInt16LE(pad, 32 + nameBytes.length);
    const entry = Buffer.alloc(46 + nameBytes.length);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x800, 8);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(data.byteLength, 20);
    entry.writeUInt32LE(data.byteLength, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    nameBytes.copy(entry, 46);
    chunks.push(local, data);
    central.push(entry);
    offset += local.length + data.byteLength;
    if (offset >= 2 ** 32) throw new Error('a ZIP archive past 4 GiB needs ZIP64, which this writer does not write');
  }
  const directorySize = central.reduce((n, c) => n + c.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(offset, 16);
  return [...chunks, ...central, end];
}
