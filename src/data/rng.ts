// A small seeded PRNG (sfc32: 32-bit state words, fast in JS) and stream derivation. Every random
// decision of the data pipeline comes from a stream named by (seed, epoch, index), so a sample's
// augmentation does not depend on which worker builds it or in which order.

/** Mixes 32-bit words into one well-spread word (murmur3's finaliser over a running hash). */
function mix32(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    let k = Math.imul(w | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= words.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Purposes keep streams that share (seed, epoch, index) apart. */
export const Purpose = { sample: 1, shuffle: 2, synthetic: 3 } as const;

/** A small seeded generator (sfc32) for data augmentation: the same words give the same stream on every platform and thread. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A stream for the given words (for example seed, epoch, index). */
  constructor(...words: number[]) {
    this.#a = mix32(0x5eed, ...words);
    this.#b = mix32(0xbeef, ...words);
    this.#c = mix32(0xcafe, ...words);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.u32(); // sfc32's recommended warm-up
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const a = this.#a,
      b = this.#b,
      c = this.#c,
      d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [lo, hi) (hi - lo <= 2^32); rejection sampling keeps it exactly uniform. */
  int(lo: number, hi: number): number {
    const n = hi - lo;
    if (!(n >= 1) || n > 4294967296) throw new RangeError(`Rng.int: empty or too wide range [${lo}, ${hi})`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.u32();
    while (x >= limit) x = this.u32();
    return lo + (x % n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }
}

/** The random stream of one sample in one epoch. */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(Purpose.sample, seed, epoch, index);
}

/** The order of `n` samples in an epoch: a Fisher-Yates shuffle from (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!shuffle) return order;
  const rng = new Rng(Purpose.shuffle, seed, epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
