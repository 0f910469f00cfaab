// Runs a python helper of the data tests with the project's torch and torchvision.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Image } from '../../src/data/image.js';
import { torchPython } from '../../src/bench/python-process.js';

export { torchPython };

/** Runs test/support/<script> with args, JSON on stdin, and parses its JSON answer. */
export function runPython<T>(script: string, input: unknown, args: string[] = []): T {
  const path = fileURLToPath(new URL(`../../../test/support/${script}`, import.meta.url));
  const r = spawnSync(torchPython, [path, ...args], {
    input: JSON.stringify(input),
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Encoded {
  shape: number[];
  dtype: string;
  data: string;
}

export function encodeImage(img: Image): { shape: number[]; data: string } {
  return { shape: [img.channels, img.height, img.width], data: Buffer.from(img.data).toString('base64') };
}

export function decodeU8(e: Encoded): Uint8Array {
  if (e.dtype !== 'uint8') throw new Error(`expected uint8, got ${e.dtype}`);
  return new Uint8Array(Buffer.from(e.data, 'base64'));
}

export function decodeF32(e: Encoded): Float32Array {
  if (e.dtype !== 'float32') throw new Error(`expected float32, got ${e.dtype}`);
  const b = Buffer.from(e.data, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
