// TensorBoard event files: TFRecord framing (length, masked CRC32C of the length, data, masked
// CRC32C of the data) around `Event` protobufs, as `tensorboard --logdir` reads them. Records are
// kept in memory and appended at checkpoints, so that the log never runs ahead of a saved position
// by more than the steps a resumed run purges (a SessionLog START at the step it resumes from),
// and at least every half minute, so that a long epoch still shows in TensorBoard as it goes.
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import crc32c from 'crc-32/crc32c.js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { writeError } from './atomic.js';

/** What every event file starts with: the version TensorBoard expects. */
const fileVersion = 'brain.Event:2';
/** SessionLog.SessionStatus.START: TensorBoard drops the run's events at or after its step. */
const sessionStart = 1;
/** The hparams plugin's tag of a run's hyperparameters, and its name in SummaryMetadata.PluginData. */
export const hparamsTag = '_hparams_/session_start_info';
const hparamsPlugin = 'hparams';
/** TensorProto of an empty float vector: the value a metadata-only summary carries (the plugin's NULL_TENSOR). */
const nullTensor = Uint8Array.of(0x08, 0x01, 0x12, 0x02, 0x12, 0x00);

/** CRC32C rotated and offset, as TFRecord stores it (a checksum of data that holds checksums stays informative). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c.buf(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: little-endian u64 length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** An `Event` message: wall time, step, and what the event carries (field number, encoder). */
function event(wallTime: number, step: number, what: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Bit64).double(wallTime);
  w.tag(2, WireType.Varint).int64(step);
  what(w);
  return w.finish();
}

/** Writers made so far by this process: two in the same second still get files of their own, in order of their names (as TensorBoard reads them). */
let writers = 0;

/** Writes one run's scalars to `events.out.tfevents.<time>.<host>.<pid>.<n>` in a directory. */
export class EventFileWriter {
  /** The event file (a new one for every writer, as TensorBoard expects of each process). */
  readonly path: string;
  #pending: Uint8Array[] = [];
  #flushed = performance.now();

  /** Nothing is written before the first flush; pending records are flushed once `flushSeconds` have passed. */
  constructor(
    dir: string,
    readonly flushSeconds = 30,
    now = Date.now() / 1000,
  ) {
    this.path = join(
      dir,
      `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}.${String(writers++).padStart(4, '0')}`,
    );
    this.#pending.push(tfRecord(event(now, 0, (w) => w.tag(3, WireType.LengthDelimited).string(fileVersion))));
  }

  /** Scalars of one step, by tag (TensorBoard stores them as 32-bit floats; non-numbers are left out). */
  scalars(step: number, values: Record<string, number | null>, wallTime = Date.now() / 1000): void {
    this.#pending.push(
      tfRecord(
        event(wallTime, step, (w) => {
          w.tag(5, WireType.LengthDelimited).fork(); // Summary
          for (const [tag, value] of Object.entries(values)) {
            if (typeof value !== 'number') continue;
            w.tag(1, WireType.LengthDelimited).fork(); // Summary.Value
            w.tag(1, WireType.LengthDelimited).string(tag);
            w.tag(2, WireType.Bit32).float(value);
            w.join();
          }
          w.join();
        }),
      ),
    );
    if (performance.now() - this.#flushed > this.flushSeconds * 1000) this.flush();
  }

  /**
   * The run's hyperparameters as the hparams plugin reads them: a SessionStartInfo (a map of
   * google.protobuf.Value: numbers, strings, booleans) in the plugin data of a metadata-only value.
   */
  hparams(values: Record<string, number | string | boolean>, step = 0, wallTime = Date.now() / 1000): void {
    const start = new BinaryWriter();
    for (const [name, value] of Object.entries(values)) {
      start.tag(1, WireType.LengthDelimited).fork(); // SessionStartInfo.hparams entry
      start.tag(1, WireType.LengthDelimited).string(name);
      start.tag(2, WireType.LengthDelimited).fork(); // google.protobuf.Value
      if (typeof value === 'number') start.tag(2, WireType.Bit64).double(value);
      else if (typeof value === 'string') start.tag(3, WireType.LengthDelimited).string(value);
      else start.tag(4, WireType.Varint).bool(value);
      start.join();
      start.join();
    }
    start.tag(5, WireType.Bit64).double(wallTime); // start_time_secs
    // HParamsPluginData: version 0 (the default, not written), session_start_info.
    const content = new BinaryWriter().tag(3, WireType.LengthDelimited).bytes(start.finish()).finish();
    this.#pending.push(
      tfRecord(
        event(wallTime, step, (w) => {
          w.tag(5, WireType.LengthDelimited).fork(); // Summary
          w.tag(1, WireType.LengthDelimited).fork(); // Summary.Value
          w.tag(1, WireType.LengthDelimited).string(hparamsTag);
          w.tag(8, WireType.LengthDelimited).bytes(nullTensor);
          w.tag(9, WireType.LengthDelimited).fork(); // SummaryMetadata
          w.tag(1, WireType.LengthDelimited).fork(); // PluginData
          w.tag(1, WireType.LengthDelimited).string(hparamsPlugin);
          w.tag(2, WireType.LengthDelimited).bytes(content);
          w.join();
          w.join();
          w.join();
          w.join();
        }),
      ),
    );
  }

  /** Marks a (re)start at `step`: TensorBoard discards what an earlier process logged from that step on. */
  start(step: number, wallTime = Date.now() / 1000): void {
    this.#pending.push(
      tfRecord(
        event(wallTime, step, (w) => {
          w.tag(7, WireType.LengthDelimited).fork(); // SessionLog
          w.tag(1, WireType.Varint).int32(sessionStart);
          w.join();
        }),
      ),
    );
  }

  /** Appends what is pending to the file. */
  flush(): void {
    if (!this.#pending.length) return;
    try {
      appendFileSync(this.path, Buffer.concat(this.#pending));
    } catch (e) {
      throw writeError(this.path, e);
    }
    this.#pending = [];
    this.#flushed = performance.now();
  }
}
