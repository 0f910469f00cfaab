// Random parameters of the augmentations, drawn from an explicit stream, with torchvision's
// distributions: RandomCrop offsets uniform over every position, flip with probability p,
// RandomResizedCrop's area/ratio sampling (10 tries, then a centre crop), Cutout's centre uniform.
import type { Rng } from './rng.js';
import { roundHalfEven } from '../math.js';

/** A rectangle of an image, in pixels. */
export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** RandomCrop: top-left corner uniform over all placements of height x width in H x W. */
export function randomCropParams(rng: Rng, H: number, W: number, height: number, width: number): Box {
  return { top: rng.int(0, H - height + 1), left: rng.int(0, W - width + 1), height, width };
}

/** RandomHorizontalFlip(p): true with probability p. */
export function flipParam(rng: Rng, p = 0.5): boolean {
  return rng.float() < p;
}

/** RandomResizedCrop.get_params: area fraction uniform in scale, aspect ratio log-uniform in ratio. */
export function resizedCropParams(
  rng: Rng,
  H: number,
  W: number,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): Box {
  const area = H * W;
  const logLo = Math.log(ratio[0]),
    logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const width = roundHalfEven(Math.sqrt(target * aspect));
    const height = roundHalfEven(Math.sqrt(target / aspect));
    if (width > 0 && width <= W && height > 0 && height <= H)
      return { top: rng.int(0, H - height + 1), left: rng.int(0, W - width + 1), height, width };
  }
  return centreFallback(H, W, ratio);
}

/** What RandomResizedCrop falls back to after ten misses: the largest centred box within the ratio range. */
export function centreFallback(H: number, W: number, ratio: readonly [number, number]): Box {
  const inRatio = W / H;
  let width = W,
    height = H;
  if (inRatio < Math.min(...ratio)) height = roundHalfEven(width / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) width = roundHalfEven(height * Math.max(...ratio));
  return { top: Math.floor((H - height) / 2), left: Math.floor((W - width) / 2), height, width };
}

/** Cutout's centre: uniform over the H x W pixel grid. */
export function cutoutParams(rng: Rng, H: number, W: number): { cy: number; cx: number } {
  return { cy: rng.int(0, H), cx: rng.int(0, W) };
}
