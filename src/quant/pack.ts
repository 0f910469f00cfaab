// Bit packing of signed integers narrower than a byte's multiple: a b-bit weight takes b bits of
// storage, not 8 or 16. The stream is little-endian: value i occupies bits i*b .. i*b+b-1, least
// significant bit first, in two's complement; the last byte is padded with zero bits.
import { checkBits, signedRange } from '../nn/fake-quant.js';

/** Bytes that `count` values of `bits` bits take. */
export function packedBytes(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

/** Packs signed integers of `bits` bits; a value outside the signed range is refused. */
export function packSigned(values: ArrayLike<number>, bits: number): Uint8Array {
  checkBits(bits, 'packed integers');
  const { min, max } = signedRange(bits);
  const mask = 2 ** bits - 1;
  const out = new Uint8Array(packedBytes(values.length, bits));
  // acc holds fewer than 8 pending bits before each value is added: at most 7 + 16 bits in all.
  let acc = 0,
    pending = 0,
    o = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < min || v > max)
      throw new Error(`value ${v} at index ${i} is not a signed ${bits}-bit integer (${min}..${max})`);
    acc |= (v & mask) << pending;
    pending += bits;
    while (pending >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      pending -= 8;
    }
  }
  if (pending > 0) out[o] = acc & 0xff;
  return out;
}

/**
 * Unpacks `count` signed integers of `bits` bits. The byte count must be exactly the one
 * packSigned gives and the padding bits zero, so that a truncated or altered stream is refused.
 */
export function unpackSigned(bytes: Uint8Array, bits: number, count: number): Int32Array {
  checkBits(bits, 'packed integers');
  const expected = packedBytes(count, bits);
  if (bytes.length !== expected)
    throw new Error(`${bytes.length} bytes for ${count} packed ${bits}-bit integers, which take ${expected}`);
  const mask = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  const out = new Int32Array(count);
  let acc = 0,
    pending = 0,
    b = 0;
  for (let i = 0; i < count; i++) {
    while (pending < bits) {
      acc |= bytes[b++]! << pending;
      pending += 8;
    }
    const u = acc & mask;
    acc >>>= bits;
    pending -= bits;
    out[i] = u >= half ? u - 2 * half : u;
  }
  if (acc !== 0) throw new Error(`the padding bits after ${count} packed ${bits}-bit integers are not zero`);
  return out;
}
