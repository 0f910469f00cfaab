// Bilinear resizing of uint8 images with Pillow's semantics (Image.resize(..., BILINEAR)), which
// is what torchvision's RandomResizedCrop runs on the PIL images that CIFAR datasets yield:
// a triangle filter widened by the scale factor when shrinking (antialiasing), weights in fixed
// point with 22 fractional bits, a horizontal pass then a vertical pass, each rounded to uint8.
import { image, type Image } from './image.js';

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

interface Coefficients {
  ksize: number;
  bounds: Int32Array;
  weights: Int32Array;
}

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** Taps of each output pixel along one axis, for input extent [in0, in1) mapped onto outSize. */
function coefficients(inSize: number, in0: number, in1: number, outSize: number): Coefficients {
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) total += w[x] = triangle((x + xmin - center + 0.5) / filterScale);
    for (let x = 0; x < xmax; x++) {
      const v = total !== 0 ? w[x]! / total : w[x]!;
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** Resizes img to height x width with Pillow's bilinear filter. */
export function resizeBilinear(img: Image, height: number, width: number): Image {
  const { channels: C, height: H, width: W, data } = img;
  let current = img;
  if (width !== W) {
    const { ksize, bounds, weights } = coefficients(W, 0, W, width);
    const out = image(C, H, width);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        const row = c * H * W + y * W;
        const orow = (c * H + y) * width;
        for (let xx = 0; xx < width; xx++) {
          const xmin = bounds[xx * 2]!,
            n = bounds[xx * 2 + 1]!,
            k = xx * ksize;
          let s = HALF;
          for (let x = 0; x < n; x++) s += data[row + xmin + x]! * weights[k + x]!;
          out.data[orow + xx] = clip8(s);
        }
      }
    }
    current = out;
  }
  if (height !== H) {
    const { ksize, bounds, weights } = coefficients(H, 0, H, height);
    const w = current.width;
    const src = current.data;
    const out = image(C, height, w);
    for (let c = 0; c < C; c++) {
      for (let yy = 0; yy < height; yy++) {
        const ymin = bounds[yy * 2]!,
          n = bounds[yy * 2 + 1]!,
          k = yy * ksize;
        for (let x = 0; x < w; x++) {
          let s = HALF;
          for (let y = 0; y < n; y++) s += src[(c * H + ymin + y) * w + x]! * weights[k + y]!;
          out.data[(c * height + yy) * w + x] = clip8(s);
        }
      }
    }
    current = out;
  }
  return current === img ? image(C, H, W, data.slice()) : current;
}
