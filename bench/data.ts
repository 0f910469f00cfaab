// `npm run bench -- data`: images/s of the micronet-seed train pipeline (pad, crop, flip,
// normalize, cutout, to tensor) through micronet's loader with 0, 1 and 2 workers, beside
// PyTorch's DataLoader with torchvision transforms on an equivalent in-memory data set.
import { Loader, Rng } from '../src/data/index.js';
import * as T from '../src/torch/index.js';
import { TorchAnchor } from '../src/bench/anchor.js';
import { median, table } from '../src/bench/timing.js';

const IMAGES = 5120;
const BATCH = 128;
/** What GoogLeNet training consumes on the reference 2-core machine (channels_last + bf16). */
const TRAINING_IMG_S = 36;

async function epochSeconds(loader: Loader, epoch: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for await (const { x, y } of loader.epoch(epoch)) {
    x.dispose();
    y.dispose();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function benchData(options: { reps: number }): Promise<void> {
  const rng = new Rng(0);
  const images = new Uint8Array(IMAGES * 3072);
  for (let i = 0; i < images.length; i += 4) {
    const v = rng.u32();
    images[i] = v;
    images[i + 1] = v >>> 8;
    images[i + 2] = v >>> 16;
    images[i + 3] = v >>> 24;
  }
  const labels = Uint8Array.from({ length: IMAGES }, () => rng.int(0, 100));
  const anchor = new TorchAnchor();
  const reps = Math.max(3, options.reps);
  const rows: string[][] = [];
  try {
    for (const workers of [0, 1, 2]) {
      const loader = new Loader({
        data: { images, labels, count: IMAGES },
        pipeline: 'micronet-seed/train',
        batchSize: BATCH,
        seed: 0,
        workers,
      });
      const ours: number[] = [];
      try {
        await epochSeconds(loader, 0); // warm-up: worker start, JIT
        for (let r = 1; r <= reps; r++) ours.push(await epochSeconds(loader, r));
      } finally {
        await loader.close();
      }
      const theirs = await anchor.time('data', { n: IMAGES, batch: BATCH, workers }, reps, T.getNumThreads(), 1);
      const a = IMAGES / median(ours),
        b = IMAGES / median(theirs);
      rows.push([String(workers), a.toFixed(0), b.toFixed(0), (a / b).toFixed(2), (a / TRAINING_IMG_S).toFixed(0)]);
      process.stdout.write('.');
    }
  } finally {
    anchor.close();
  }
  process.stdout.write('\n');
  console.log(
    `data: micronet-seed train pipeline, ${IMAGES} images per epoch, batch ${BATCH}, median of ${reps} epochs ` +
      `(ratio = micronet img/s / PyTorch img/s; x training = micronet img/s / ${TRAINING_IMG_S} img/s consumed by training)`,
  );
  console.log(table(['workers', 'micronet img/s', 'PyTorch img/s', 'ratio', 'x training'], rows));
}
