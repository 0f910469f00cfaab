// An independent reader of TensorBoard event files for the tests: its own CRC32C (bit by bit,
// from the Castagnoli polynomial), its own TFRecord framing and its own protobuf decoding of the
// Event fields micronet writes. Every record's two checksums are verified.
import { readFileSync } from 'node:fs';

/** CRC32C of bytes, computed bit by bit with the reflected polynomial 0x82F63B78. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** What the tests read of an Event. */
export interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: Map<string, number>;
  /** Values that carry a plugin's data (SummaryMetadata.plugin_data), by tag. */
  plugins?: Map<string, { plugin: string; content: Uint8Array }>;
  sessionStatus?: number;
}

/** A value's SummaryMetadata: its plugin's name and content. */
function decodeMetadata(b: Uint8Array): { plugin: string; content: Uint8Array } {
  const out = { plugin: '', content: new Uint8Array() };
  const m = new Fields(b);
  while (!m.done) {
    const f = m.next();
    if (f.field !== 1 || f.wire !== 2) {
      m.skip(f.wire);
      continue;
    }
    const data = new Fields(m.bytes());
    while (!data.done) {
      const d = data.next();
      if (d.field === 1 && d.wire === 2) out.plugin = new TextDecoder().decode(data.bytes());
      else if (d.field === 2 && d.wire === 2) out.content = data.bytes().slice();
      else data.skip(d.wire);
    }
  }
  return out;
}

/** The hparams of an HParamsPluginData's session_start_info (google.protobuf.Value: numbers, strings, booleans). */
export function decodeSessionStart(content: Uint8Array): {
  version: number;
  hparams: Record<string, number | string | boolean>;
  startTime: number;
} {
  const out = { version: 0, hparams: {} as Record<string, number | string | boolean>, startTime: NaN };
  const data = new Fields(content);
  while (!data.done) {
    const d = data.next();
    if (d.field === 1 && d.wire === 0) out.version = data.varint();
    else if (d.field === 3 && d.wire === 2) {
      const start = new Fields(data.bytes());
      while (!start.done) {
        const s = start.next();
        if (s.field === 5 && s.wire === 1) out.startTime = start.view(8).getFloat64(0, true);
        else if (s.field === 1 && s.wire === 2) {
          const entry = new Fields(start.bytes());
          let key = '';
          let value: number | string | boolean = NaN;
          while (!entry.done) {
            const e = entry.next();
            if (e.field === 1 && e.wire === 2) key = new TextDecoder().decode(entry.bytes());
            else if (e.field === 2 && e.wire === 2) {
              const v = new Fields(entry.bytes());
              while (!v.done) {
                const k = v.next();
                if (k.field === 2 && k.wire === 1) value = v.view(8).getFloat64(0, true);
                else if (k.field === 3 && k.wire === 2) value = new TextDecoder().decode(v.bytes());
                else if (k.field === 4 && k.wire === 0) value = v.varint() !== 0;
                else v.skip(k.wire);
              }
            } else entry.skip(e.wire);
          }
          out.hparams[key] = value;
        } else start.skip(s.wire);
      }
    } else data.skip(d.wire);
  }
  return out;
}

class Fields {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  get done() {
    return this.pos >= this.b.length;
  }
  varint(): number {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = this.b[this.pos++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return Number(BigInt.asIntN(64, v));
    }
  }
  next(): { field: number; wire: number } {
    const key = this.varint();
    return { field: key >>> 3, wire: key & 7 };
  }
  bytes(): Uint8Array {
    const n = this.varint();
    this.pos += n;
    return this.b.subarray(this.pos - n, this.pos);
  }
  view(n: number): DataView {
    this.pos += n;
    return new DataView(this.b.buffer, this.b.byteOffset + this.pos - n, n);
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
}

function decodeEvent(b: Uint8Array): ReadEvent {
  const r = new Fields(b);
  const e: ReadEvent = { wallTime: NaN, step: 0 };
  while (!r.done) {
    const { field, wire } = r.next();
    if (field === 1 && wire === 1) e.wallTime = r.view(8).getFloat64(0, true);
    else if (field === 2 && wire === 0) e.step = r.varint();
    else if (field === 3 && wire === 2) e.fileVersion = new TextDecoder().decode(r.bytes());
    else if (field === 5 && wire === 2) {
      e.scalars = new Map();
      const summary = new Fields(r.bytes());
      while (!summary.done) {
        const s = summary.next();
        if (s.field !== 1 || s.wire !== 2) {
          summary.skip(s.wire);
          continue;
        }
        const value = new Fields(summary.bytes());
        let tag = '';
        let simple = NaN;
        let plugin: { plugin: string; content: Uint8Array } | undefined;
        while (!value.done) {
          const v = value.next();
          if (v.field === 1 && v.wire === 2) tag = new TextDecoder().decode(value.bytes());
          else if (v.field === 2 && v.wire === 5) simple = value.view(4).getFloat32(0, true);
          else if (v.field === 9 && v.wire === 2) plugin = decodeMetadata(value.bytes());
          else value.skip(v.wire);
        }
        if (plugin) (e.plugins ??= new Map()).set(tag, plugin);
        else e.scalars.set(tag, simple);
      }
    } else if (field === 7 && wire === 2) {
      const log = new Fields(r.bytes());
      while (!log.done) {
        const l = log.next();
        if (l.field === 1 && l.wire === 0) e.sessionStatus = log.varint();
        else log.skip(l.wire);
      }
    } else r.skip(wire);
  }
  return e;
}

/** Every event of a file; throws on a bad checksum or a truncated record. */
export function readEventFile(path: string): ReadEvent[] {
  const b = new Uint8Array(readFileSync(path));
  const events: ReadEvent[] = [];
  for (let pos = 0; pos < b.length; ) {
    if (pos + 12 > b.length) throw new Error(`${path}: truncated record header at byte ${pos}`);
    const view = new DataView(b.buffer, b.byteOffset + pos);
    const length = Number(view.getBigUint64(0, true));
    if (view.getUint32(8, true) !== mask(crc32cBitwise(b.subarray(pos, pos + 8))))
      throw new Error(`${path}: bad length checksum at byte ${pos}`);
    const data = b.subarray(pos + 12, pos + 12 + length);
    if (data.length !== length || pos + 16 + length > b.length)
      throw new Error(`${path}: truncated record at byte ${pos}`);
    if (view.getUint32(12 + length, true) !== mask(crc32cBitwise(data)))
      throw new Error(`${path}: bad data checksum at byte ${pos}`);
    events.push(decodeEvent(data));
    pos += 16 + length;
  }
  return events;
}
