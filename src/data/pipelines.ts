// The two recipes' train and test pipelines, by name, as fused per-sample functions: uint8 CHW
// 3x32x32 in, normalised float32 written straight into a batch buffer (NCHW or NHWC). Each is
// the composition of transforms.ts's functions with params.ts's draws, in this order:
//   micronet-seed/train:  pad 4 -> random crop 32 -> flip 0.5 -> normalize (train stats) -> cutout 8
//   id56-notebook/train:  pad 4 -> RandomResizedCrop 32 (bilinear) -> flip 0.5 -> normalize (train stats) -> cutout 8
//   micronet-seed/test:   normalize (train stats)
//   id56-notebook/test:   normalize (test stats)
// Pure JS (no engine), so that worker threads can run them.
import { image, type Image } from './image.js';
import { cutoutParams, flipParam, randomCropParams, resizedCropParams } from './params.js';
import type { Rng } from './rng.js';
import { cutoutSpan, normalizeTables, pad, resizedCrop } from './transforms.js';

/** Per-channel mean and standard deviation (R, G, B) that normalize uses. */
export interface Stats {
  mean: readonly number[];
  std: readonly number[];
}

/** CIFAR-100 per-channel statistics of images scaled to [0, 1]. */
export const cifar100TrainStats: Stats = {
  mean: [0.5070751592371341, 0.48654887331495067, 0.4409178433670344],
  std: [0.2673342858792403, 0.2564384629170882, 0.27615047132568393],
};
/** The same statistics over the CIFAR-100 test split (what the id56 notebook normalizes its test data with). */
export const cifar100TestStats: Stats = {
  mean: [0.508796412760417, 0.48739301317401906, 0.4419422112438727],
  std: [0.2682515741720801, 0.25736373644781246, 0.2770957707973041],
};

/** The pipelines by name: each recipe's train and test transforms. */
export const pipelineNames = [
  'micronet-seed/train',
  'micronet-seed/test',
  'id56-notebook/train',
  'id56-notebook/test',
] as const;
/** A pipeline's name. */
export type PipelineName = (typeof pipelineNames)[number];

/** A pipeline as plain data, so it can be sent to a worker. `stats` overrides the recipe's statistics. */
export interface PipelineSpec {
  name: PipelineName;
  stats?: Stats;
}

/** A sample's geometry: channels, height, width, elements per plane and per sample (3072). */
export const C = 3,
  H = 32,
  W = 32,
  PLANE = H * W,
  SAMPLE = C * PLANE;
const PAD = 4,
  CUTOUT = 8;

/** Transforms one sample (src: 3072 bytes, CHW) into out[offset, offset + 3072). */
export type SampleTransform = (
  src: Uint8Array,
  rng: Rng,
  out: Float32Array,
  offset: number,
  channelsLast: boolean,
) => void;

/** A built pipeline: its spec, whether it draws random numbers, and its per-sample transform. */
export interface Pipeline {
  spec: PipelineSpec;
  random: boolean;
  apply: SampleTransform;
}

/** Builds a pipeline from its name or spec; throws for an unknown name. */
export function pipeline(spec: PipelineSpec | PipelineName): Pipeline {
  const s: PipelineSpec = typeof spec === 'string' ? { name: spec } : spec;
  if (!pipelineNames.includes(s.name))
    throw new Error(`unknown pipeline '${s.name}' (known: ${pipelineNames.join(', ')})`);
  const stats = s.stats ?? (s.name === 'id56-notebook/test' ? cifar100TestStats : cifar100TrainStats);
  const tables = normalizeTables(stats.mean, stats.std);
  switch (s.name) {
    case 'micronet-seed/train':
      return { spec: s, random: true, apply: padCropFlipCutout(tables) };
    case 'id56-notebook/train':
      return { spec: s, random: true, apply: resizedCropFlipCutout(tables) };
    default:
      return {
        spec: s,
        random: false,
        apply: (src, _rng, out, offset, cl) => write(src, tables, out, offset, cl, 0, 0, false, -1, -1),
      };
  }
}

/**
 * Writes normalize(flip(window)) where window(y, x) = src(y - dy, x - dx), zero outside src;
 * then zeros the cutout square centred at (cy, cx) (none when cy < 0).
 */
function write(
  src: Uint8Array,
  tables: Float32Array[],
  out: Float32Array,
  offset: number,
  channelsLast: boolean,
  dy: number,
  dx: number,
  flip: boolean,
  cy: number,
  cx: number,
): void {
  const [y0, y1] = cy < 0 ? [0, 0] : cutoutSpan(cy, CUTOUT, H);
  const [x0, x1] = cx < 0 ? [0, 0] : cutoutSpan(cx, CUTOUT, W);
  const xs = channelsLast ? C : 1,
    cs = channelsLast ? 1 : PLANE,
    ys = W * xs;
  for (let c = 0; c < C; c++) {
    const t = tables[c]!;
    const zero = t[0]!;
    const base = c * PLANE;
    for (let y = 0; y < H; y++) {
      const sy = y - dy;
      let o = offset + c * cs + y * ys;
      const holeRow = y >= y0 && y < y1;
      if (sy < 0 || sy >= H) {
        for (let x = 0; x < W; x++, o += xs) out[o] = holeRow && x >= x0 && x < x1 ? 0 : zero;
        continue;
      }
      const row = base + sy * W;
      for (let x = 0; x < W; x++, o += xs) {
        const sx = (flip ? W - 1 - x : x) - dx;
        out[o] = holeRow && x >= x0 && x < x1 ? 0 : sx >= 0 && sx < W ? t[src[row + sx]!]! : zero;
      }
    }
  }
}

function padCropFlipCutout(tables: Float32Array[]): SampleTransform {
  return (src, rng, out, offset, channelsLast) => {
    const box = randomCropParams(rng, H + 2 * PAD, W + 2 * PAD, H, W);
    const flip = flipParam(rng, 0.5);
    const { cy, cx } = cutoutParams(rng, H, W);
    // Cropping the padded image at (top, left) shifts the original by (PAD - top, PAD - left).
    write(src, tables, out, offset, channelsLast, PAD - box.top, PAD - box.left, flip, cy, cx);
  };
}

function resizedCropFlipCutout(tables: Float32Array[]): SampleTransform {
  return (src, rng, out, offset, channelsLast) => {
    const padded = pad(image(C, H, W, src), PAD);
    const box = resizedCropParams(rng, padded.height, padded.width);
    const flip = flipParam(rng, 0.5);
    const { cy, cx } = cutoutParams(rng, H, W);
    const cropped: Image = resizedCrop(padded, box.top, box.left, box.height, box.width, H);
    write(cropped.data, tables, out, offset, channelsLast, 0, 0, flip, cy, cx);
  };
}
