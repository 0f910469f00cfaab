// Random parameters follow their distributions. Every stream is seeded, so these results are
// fixed; the bounds are set at roughly one-in-a-million levels so that a changed seed would not
// break them either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centreFallback, cutoutParams, flipParam, randomCropParams, resizedCropParams } from '../src/data/params.js';
import { roundHalfEven } from '../src/math.js';
import { epochOrder, Rng, sampleRng } from '../src/data/rng.js';
import { runPython } from './support/data-python.js';

/** Pearson's chi-square of observed counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const e = total / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}

/** Chi-square bound at p ~ 1e-6 for k degrees of freedom (Wilson-Hilferty, z = 4.75). */
function chiBound(k: number): number {
  return k * (1 - 2 / (9 * k) + 4.75 * Math.sqrt(2 / (9 * k))) ** 3;
}

/** Two-sample Kolmogorov-Smirnov statistic. */
function ks(a: number[], b: number[]): number {
  const xs = [...new Set([...a, ...b])].sort((x, y) => x - y);
  const sa = [...a].sort((x, y) => x - y),
    sb = [...b].sort((x, y) => x - y);
  let i = 0,
    j = 0,
    d = 0;
  for (const x of xs) {
    while (i < sa.length && sa[i]! <= x) i++;
    while (j < sb.length && sb[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / sa.length - j / sb.length));
  }
  return d;
}

test('random crop offsets are uniform over the 9 x 9 placements in a 40 x 40 padded image', () => {
  const tops = new Array(9).fill(0),
    lefts = new Array(9).fill(0);
  for (let i = 0; i < 45000; i++) {
    const b = randomCropParams(sampleRng(0, 0, i), 40, 40, 32, 32);
    tops[b.top]++;
    lefts[b.left]++;
  }
  assert.equal(tops.length + lefts.length, 18, 'offsets stay within 0..8');
  assert.ok(chiSquare(tops) < chiBound(8), `tops ${tops}`);
  assert.ok(chiSquare(lefts) < chiBound(8), `lefts ${lefts}`);
});

test('flip happens with probability 0.5', () => {
  const n = 100000;
  let flips = 0;
  for (let i = 0; i < n; i++) if (flipParam(sampleRng(1, 2, i))) flips++;
  // sd of the rate is 0.0016: 5 sd
  assert.ok(Math.abs(flips / n - 0.5) < 0.008, `flip rate ${flips / n}`);
});

test('cutout centres are uniform over the 32 x 32 grid', () => {
  const ys = new Array(32).fill(0),
    xs = new Array(32).fill(0);
  for (let i = 0; i < 64000; i++) {
    const { cy, cx } = cutoutParams(sampleRng(2, 0, i), 32, 32);
    ys[cy]++;
    xs[cx]++;
  }
  assert.equal(ys.length + xs.length, 64, 'centres stay within 0..31');
  assert.ok(chiSquare(ys) < chiBound(31), `rows ${ys}`);
  assert.ok(chiSquare(xs) < chiBound(31), `columns ${xs}`);
});

test("RandomResizedCrop boxes follow torchvision's distribution (area, aspect, position)", () => {
  const n = 20000;
  const theirs = runPython<number[][]>('data-rrc.py', { n, height: 40, width: 40, seed: 0 });
  const ours = Array.from({ length: n }, (_, i) => {
    const b = resizedCropParams(sampleRng(4, 0, i), 40, 40);
    return [b.top, b.left, b.height, b.width];
  });
  // KS bound for two samples of 20000 at p ~ 1e-6: 2.69 * sqrt(2 / 20000) = 0.027
  const features: [string, (b: number[]) => number][] = [
    ['area', (b) => b[2]! * b[3]!],
    ['log aspect', (b) => Math.log(b[3]! / b[2]!)],
    ['top', (b) => b[0]!],
    ['left', (b) => b[1]!],
    ['height', (b) => b[2]!],
  ];
  for (const [name, f] of features) {
    const d = ks(ours.map(f), theirs.map(f));
    assert.ok(d < 0.027, `${name}: KS distance ${d.toFixed(4)} from torchvision`);
  }
  for (const b of ours)
    assert.ok(b[0]! + b[2]! <= 40 && b[1]! + b[3]! <= 40 && b[2]! >= 1 && b[3]! >= 1, `box inside the image: ${b}`);
});

test('RandomResizedCrop falls back to the centred box after ten misses', () => {
  // A 1 x 40 image: a box of aspect in [3/4, 4/3] and area >= 3.2 px (8%) has height
  // round(sqrt(area / aspect)) >= 2, so it never fits; torchvision then takes the whole height
  // and width round(1 * 4/3) = 1, centred: left = (40 - 1) // 2 = 19.
  const expected = { top: 0, left: 19, height: 1, width: 1 };
  assert.deepEqual(centreFallback(1, 40, [3 / 4, 4 / 3]), expected);
  const rng = new Rng(9);
  for (let i = 0; i < 50; i++) assert.deepEqual(resizedCropParams(rng, 1, 40), expected);
  // a 10 x 40 image falls back to height 10, width round(10 * 4/3) = 13, left (40 - 13) // 2 = 13
  assert.deepEqual(centreFallback(10, 40, [3 / 4, 4 / 3]), { top: 0, left: 13, height: 10, width: 13 });
});

test("rounding follows Python's round (halves to even), as torchvision computes box sides", () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3]);
});

test('epoch order is a permutation, differs between epochs, and is the same for the same seed', () => {
  const a = epochOrder(1000, 5, 0);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(epochOrder(1000, 5, 0), a);
  assert.notDeepEqual(epochOrder(1000, 5, 1), a);
  assert.notDeepEqual(epochOrder(1000, 6, 0), a);
  // where sample 0 lands is uniform over the positions
  const where = new Array(10).fill(0);
  for (let e = 0; e < 20000; e++) where[epochOrder(10, 1, e).indexOf(0)]++;
  assert.ok(chiSquare(where) < chiBound(9), `positions ${where}`);
});

test('Rng.int is uniform and Rng.float stays in [0, 1)', () => {
  const r = new Rng(11);
  const counts = new Array(7).fill(0);
  let lo = 1,
    hi = 0;
  for (let i = 0; i < 70000; i++) {
    counts[r.int(0, 7)]++;
    const f = r.float();
    lo = Math.min(lo, f);
    hi = Math.max(hi, f);
  }
  assert.ok(chiSquare(counts) < chiBound(6), `counts ${counts}`);
  assert.ok(lo >= 0 && hi < 1 && lo < 0.001 && hi > 0.999);
});
