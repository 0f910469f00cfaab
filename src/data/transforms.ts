// Image transforms as pure functions on CHW images (see image.ts): each returns a new image and
// leaves its input untouched. Random parameters are drawn separately (params.ts), so the same
// parameters can be replayed here and in torchvision.
import { image, type FloatImage, type Image } from './image.js';
import { resizeBilinear } from './resize.js';

/** Pads every side with `padding` zero pixels (torchvision Pad(padding), fill 0). */
export function pad(img: Image, padding: number): Image {
  const { channels: C, height: H, width: W } = img;
  const h = H + 2 * padding,
    w = W + 2 * padding;
  const out = image(C, h, w);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      out.data.set(img.data.subarray((c * H + y) * W, (c * H + y + 1) * W), (c * h + y + padding) * w + padding);
  return out;
}

/** The height x width region at (top, left); pixels outside the image are zeros (as torchvision's crop). */
export function crop(img: Image, top: number, left: number, height: number, width: number): Image {
  const { channels: C, height: H, width: W } = img;
  const out = image(C, height, width);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < height; y++) {
      const sy = top + y;
      if (sy < 0 || sy >= H) continue;
      for (let x = 0; x < width; x++) {
        const sx = left + x;
        if (sx >= 0 && sx < W) out.data[(c * height + y) * width + x] = img.data[(c * H + sy) * W + sx]!;
      }
    }
  return out;
}

/** Mirror left-right. */
export function hflip(img: Image): Image {
  const { channels: C, height: H, width: W } = img;
  const out = image(C, H, W);
  for (let r = 0; r < C * H; r++) for (let x = 0; x < W; x++) out.data[r * W + x] = img.data[r * W + W - 1 - x]!;
  return out;
}

/** Crop then bilinear resize to size x size (torchvision resized_crop on a PIL image, BILINEAR). */
export function resizedCrop(img: Image, top: number, left: number, height: number, width: number, size: number): Image {
  return resizeBilinear(crop(img, top, left, height, width), size, size);
}

/**
 * Per-channel lookup tables uint8 -> normalised float32, with the exact float32 arithmetic of
 * ToTensor then Normalize: (float32(v) / 255 - mean) / std, each step rounded to float32.
 */
export function normalizeTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return mean.map((m, c) => {
    const mf = Math.fround(m),
      sf = Math.fround(std[c]!);
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(v / 255) - mf) / sf;
    return t;
  });
}

/** ToTensor then Normalize(mean, std): uint8 to float32. */
export function normalize(img: Image, mean: readonly number[], std: readonly number[]): FloatImage {
  if (mean.length !== img.channels || std.length !== img.channels)
    throw new RangeError(`normalize: ${img.channels} channels, ${mean.length} means, ${std.length} stds`);
  const tables = normalizeTables(mean, std);
  const plane = img.height * img.width;
  const out = new Float32Array(img.data.length);
  for (let c = 0; c < img.channels; c++) {
    const t = tables[c]!;
    for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = t[img.data[i]!]!;
  }
  return { channels: img.channels, height: img.height, width: img.width, data: out };
}

/** Rows (or columns) [centre - side/2, centre + side/2) clipped to [0, size). */
export function cutoutSpan(centre: number, side: number, size: number): [number, number] {
  const half = Math.floor(side / 2);
  return [Math.max(centre - half, 0), Math.min(centre + half, size)];
}

/** Cutout: zeros in a side x side square centred at (cy, cx), clipped at the border, every channel. */
export function cutout<I extends Image | FloatImage>(img: I, cy: number, cx: number, side: number): I {
  const out = { ...img, data: img.data.slice() } as I;
  const [y0, y1] = cutoutSpan(cy, side, img.height);
  const [x0, x1] = cutoutSpan(cx, side, img.width);
  for (let c = 0; c < img.channels; c++)
    for (let y = y0; y < y1; y++)
      out.data.fill(0, (c * img.height + y) * img.width + x0, (c * img.height + y) * img.width + x1);
  return out;
}
