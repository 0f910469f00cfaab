// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data. Reading validates all of it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import * as T from '../torch/index.js';
import { writeFileAtomic } from './atomic.js';
import { readFileNamed } from './read.js';

const toFormat: Record<T.DType, string> = {
  bool: 'BOOL',
  uint8: 'U8',
  int8: 'I8',
  int16: 'I16',
  int32: 'I32',
  int64: 'I64',
  float16: 'F16',
  bfloat16: 'BF16',
  float32: 'F32',
  float64: 'F64',
};
const fromFormat = new Map(Object.entries(toFormat).map(([d, f]) => [f, d as T.DType]));
const maxHeader = 100 * 2 ** 20;
/** The most tensors a file may hold: a model's state, masks and optimizer state are a few thousand at most. */
const maxTensors = 100_000;

/** A safetensors file read whole: its tensors, in file order, which the caller disposes, and its metadata. */
export interface TensorFile {
  tensors: Map<string, T.Tensor>;
  metadata: Record<string, string>;
}

/** The file's bytes as chunks (header, then each tensor's data), tensors in the given order. */
export function encodeSafetensors(tensors: Map<string, T.Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error('a tensor cannot be named __metadata__');
    const values = t.data();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    header[name] = { dtype: toFormat[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    data.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');
  return [head, ...data];
}

/** Writes atomically: a reader sees the previous file or the complete new one. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, T.Tensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a safetensors file (see parseSafetensors). */
export function readSafetensors(path: string): TensorFile {
  const bytes = readFileNamed(path);
  return parseSafetensors(bytes, path);
}

/** What a safetensors header says: the metadata, and each tensor's name, dtype and shape, with the data section's size. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, { dtype: T.DType; shape: number[] }>;
  dataBytes: number;
}

/** Only the metadata of a safetensors file, read without loading its tensors (header validated). */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  return readSafetensorsHeader(path).metadata;
}

/** The header of a safetensors file, validated, read without loading any tensor. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(8, size));
    readSync(fd, prefix, 0, prefix.length, 0);
    const headerLength = checkedHeaderLength(prefix, size, path);
    const header = Buffer.alloc(headerLength);
    readSync(fd, header, 0, headerLength, 8);
    const dataBytes = size - 8 - headerLength;
    const { metadata, entries } = parseHeader(header, path, dataBytes);
    return { metadata, tensors: new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }])), dataBytes };
  } finally {
    closeSync(fd);
  }
}

const invalid = (what: string, problem: string) => new Error(`${what} is not a valid safetensors file: ${problem}`);

/** The header length the first 8 bytes give, checked against the file's size. */
function checkedHeaderLength(prefix: Uint8Array, fileSize: number, what: string): number {
  if (fileSize < 8) throw invalid(what, `only ${fileSize} bytes`);
  const headerLength = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (headerLength > BigInt(Math.min(fileSize - 8, maxHeader)))
    throw invalid(what, `header length ${headerLength} exceeds the file (${fileSize} bytes)`);
  return Number(headerLength);
}

interface Entry {
  name: string;
  dtype: T.DType;
  shape: number[];
  begin: number;
  end: number;
}

/** Validates the JSON header against a data section of dataLength bytes. */
function parseHeader(
  headerBytes: Uint8Array,
  what: string,
  dataLength: number,
): { metadata: Record<string, string>; entries: Entry[] } {
  const bad = (problem: string) => invalid(what, problem);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const count = Object.keys(header).length;
  if (count > maxTensors + 1) throw bad(`it names ${count} tensors, more than any model has (at most ${maxTensors})`);
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw bad(`metadata '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e?.dtype === 'string' ? fromFormat.get(e.dtype) : undefined;
    if (!dtype) throw bad(`tensor '${name}' has unknown dtype ${JSON.stringify(e?.dtype)}`);
    const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    if (!Array.isArray(e.shape) || !e.shape.every(isCount))
      throw bad(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !e.data_offsets.every(isCount))
      throw bad(`tensor '${name}' has invalid data_offsets`);
    const [begin, end] = e.data_offsets as [number, number];
    const expected = (e.shape as number[]).reduce((a, b) => a * b, 1) * T.dtypeBytes[dtype];
    if (end < begin || end - begin !== expected)
      throw bad(`tensor '${name}' spans ${end - begin} bytes, its dtype and shape need ${expected}`);
    if (end > dataLength)
      throw bad(`tensor '${name}' ends at byte ${end} of a ${dataLength}-byte data section (truncated file?)`);
    entries.push({ name, dtype, shape: e.shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor)
      throw bad(`tensor '${e.name}' starts at byte ${e.begin}, expected ${cursor} (overlap or hole)`);
    cursor = e.end;
  }
  if (cursor !== dataLength) throw bad(`${dataLength - cursor} bytes after the last tensor`);
  return { metadata, entries };
}

/** Parses and validates a safetensors image; `what` names it in errors (a path). */
function parseSafetensors(bytes: Uint8Array, what: string): TensorFile {
  const dataStart = 8 + checkedHeaderLength(bytes.subarray(0, 8), bytes.byteLength, what);
  const { metadata, entries } = parseHeader(bytes.subarray(8, dataStart), what, bytes.byteLength - dataStart);
  const tensors = new Map<string, T.Tensor>();
  for (const e of entries) {
    tensors.set(
      e.name,
      T.keep(T.tensor(bytes.subarray(dataStart + e.begin, dataStart + e.end), { dtype: e.dtype, shape: e.shape })),
    );
  }
  return { tensors, metadata };
}
