// Transforms agree with torchvision (0.14, on PIL images as its CIFAR datasets yield them) on the
// same image with the same parameters. uint8 results must be identical; float results within
// 1e-6 (both compute ToTensor and Normalize in float32; we expect them bit-equal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crop, cutout, hflip, image, normalize, pad, resizedCrop, type Image } from '../src/data/index.js';
import { cifar100TestStats, cifar100TrainStats, pipeline, SAMPLE } from '../src/data/pipelines.js';
import { cutoutParams, flipParam, randomCropParams, resizedCropParams, type Box } from '../src/data/params.js';
import { Rng, sampleRng } from '../src/data/rng.js';
import { decodeF32, decodeU8, encodeImage, runPython, type Encoded } from './support/data-python.js';

function randomImage(seed: number, h = 32, w = 32): Image {
  const r = new Rng(seed);
  const img = image(3, h, w);
  for (let i = 0; i < img.data.length; i++) img.data[i] = r.int(0, 256);
  return img;
}

/** A smooth image with sharp edges: exercises interpolation differently from noise. */
function structuredImage(): Image {
  const img = image(3, 32, 32);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) img.data[c * 1024 + y * 32 + x] = (x * 8 + c * 40 + (y > 16 ? 100 : 0)) & 255;
  return img;
}

const noise = randomImage(1);
const smooth = structuredImage();
const padded = pad(noise, 4);
const stats = cifar100TrainStats;

// Crop boxes for RandomResizedCrop: drawn as training draws them, plus the extremes.
const boxRng = new Rng(7);
const boxes: Box[] = [
  { top: 0, left: 0, height: 40, width: 40 },
  { top: 20, left: 20, height: 1, width: 1 },
  { top: 3, left: 5, height: 32, width: 32 },
  { top: 1, left: 2, height: 11, width: 37 },
  ...Array.from({ length: 150 }, () => resizedCropParams(boxRng, 40, 40)),
];

interface Case {
  op: string;
  image: ReturnType<typeof encodeImage>;
  [k: string]: unknown;
}
const cases: Case[] = [];
const add = (c: Case) => cases.push(c) - 1;
const at = {
  pad: [noise, smooth].map((img) => add({ op: 'pad', image: encodeImage(img), padding: 4 })),
  crop: [
    [0, 0],
    [8, 8],
    [3, 6],
    [-2, 5],
  ].map(([t, l]) => add({ op: 'crop', image: encodeImage(padded), top: t, left: l, height: 32, width: 32 })),
  hflip: add({ op: 'hflip', image: encodeImage(noise) }),
  resized: boxes.flatMap((b) =>
    [padded, pad(smooth, 4)].map((img) => add({ op: 'resized_crop', image: encodeImage(img), ...b, size: 32 })),
  ),
  normalize: [stats, cifar100TestStats].map((s) =>
    add({ op: 'normalize', image: encodeImage(noise), mean: s.mean, std: s.std }),
  ),
  cutout: [
    [0, 0],
    [31, 31],
    [16, 3],
    [5, 20],
  ].map(([cy, cx]) =>
    add({ op: 'cutout', image: encodeImage(noise), mean: stats.mean, std: stats.std, cy, cx, side: 8 }),
  ),
};

// Whole pipelines: replay the parameter draws our pipelines make for sample i, hand them to torchvision.
const pipelineSamples = Array.from({ length: 40 }, (_, i) => i);
function drawn(resized: boolean, i: number) {
  const r = sampleRng(3, 1, i);
  const box = resized ? resizedCropParams(r, 40, 40) : randomCropParams(r, 40, 40, 32, 32);
  const flip = flipParam(r, 0.5);
  return { ...box, flip, ...cutoutParams(r, 32, 32) };
}
const pipelineAt = ([false, true] as const).map((resized) =>
  pipelineSamples.map((i) =>
    add({
      op: 'pipeline',
      image: encodeImage(randomImage(100 + i)),
      resized,
      ...drawn(resized, i),
      mean: stats.mean,
      std: stats.std,
    }),
  ),
);

const answers = runPython<Encoded[]>('data-torchvision.py', cases);

function sameBytes(ours: Uint8Array, theirs: Encoded, what: string): void {
  const t = decodeU8(theirs);
  assert.equal(ours.length, t.length, `${what}: size`);
  const bad = ours.findIndex((v, i) => v !== t[i]);
  assert.equal(bad, -1, `${what}: byte ${bad} is ${ours[bad]}, torchvision has ${t[bad]}`);
}

function closeFloats(ours: Float32Array, theirs: Encoded, what: string, atol = 1e-6): void {
  const t = decodeF32(theirs);
  assert.equal(ours.length, t.length, `${what}: size`);
  const bad = ours.findIndex((v, i) => !(Math.abs(v - t[i]!) <= atol));
  assert.equal(bad, -1, `${what}: element ${bad} is ${ours[bad]}, torchvision has ${t[bad]}`);
}

test('pad with zeros matches torchvision Pad(4)', () => {
  [noise, smooth].forEach((img, k) => sameBytes(pad(img, 4).data, answers[at.pad[k]!]!, 'pad'));
});

test('crop matches torchvision crop, including boxes past the border', () => {
  [
    [0, 0],
    [8, 8],
    [3, 6],
    [-2, 5],
  ].forEach(([t, l], k) => sameBytes(crop(padded, t!, l!, 32, 32).data, answers[at.crop[k]!]!, `crop at ${t},${l}`));
});

test('hflip matches torchvision hflip', () => {
  sameBytes(hflip(noise).data, answers[at.hflip]!, 'hflip');
});

test('resized crop is byte-identical to torchvision resized_crop (PIL, bilinear) for up- and downscaling', () => {
  let k = 0;
  for (const b of boxes)
    for (const img of [padded, pad(smooth, 4)])
      sameBytes(
        resizedCrop(img, b.top, b.left, b.height, b.width, 32).data,
        answers[at.resized[k++]!]!,
        `resized_crop ${JSON.stringify(b)}`,
      );
});

test('normalize matches ToTensor + Normalize with train and test statistics', () => {
  [stats, cifar100TestStats].forEach((s, k) =>
    closeFloats(normalize(noise, s.mean, s.std).data, answers[at.normalize[k]!]!, 'normalize'),
  );
});

test("cutout after normalisation matches the entry's mask, clipped at every border", () => {
  [
    [0, 0],
    [31, 31],
    [16, 3],
    [5, 20],
  ].forEach(([cy, cx], k) =>
    closeFloats(
      cutout(normalize(noise, stats.mean, stats.std), cy!, cx!, 8).data,
      answers[at.cutout[k]!]!,
      `cutout at ${cy},${cx}`,
    ),
  );
});

test("the micronet-seed and id56-notebook train pipelines equal torchvision's composition with the same draws", () => {
  for (const [p, name] of [
    [0, 'micronet-seed/train'],
    [1, 'id56-notebook/train'],
  ] as const) {
    const pipe = pipeline(name);
    for (const i of pipelineSamples) {
      const out = new Float32Array(SAMPLE);
      pipe.apply(randomImage(100 + i).data, sampleRng(3, 1, i), out, 0, false);
      closeFloats(out, answers[pipelineAt[p]![i]!]!, `${name} sample ${i}`);
    }
  }
});

test('channels_last output holds the same values as NCHW, transposed', () => {
  const pipe = pipeline('micronet-seed/train');
  const src = randomImage(5).data;
  const a = new Float32Array(SAMPLE),
    b = new Float32Array(SAMPLE);
  pipe.apply(src, sampleRng(0, 0, 9), a, 0, false);
  pipe.apply(src, sampleRng(0, 0, 9), b, 0, true);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) assert.equal(b[p * 3 + c], a[c * 1024 + p]);
});

test("test pipelines normalise with the recipe's statistics only", () => {
  const src = randomImage(6);
  for (const [name, s] of [
    ['micronet-seed/test', stats],
    ['id56-notebook/test', cifar100TestStats],
  ] as const) {
    const out = new Float32Array(SAMPLE);
    pipeline(name).apply(src.data, new Rng(0), out, 0, false);
    assert.deepEqual(out, normalize(src, s.mean, s.std).data, name);
  }
});
