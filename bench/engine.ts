// `npm run bench -- engine`: one GoogLeNet-sized conv (128->192, 3x3, batch 16 at 32x32),
// forward and forward+backward, through micronet and through PyTorch in the same run.
import * as T from '../src/torch/index.js';
import { TorchAnchor } from '../src/bench/anchor.js';
import { median, table, timeSync } from '../src/bench/timing.js';

const { F } = T;

interface ConvConfig {
  batch: number;
  cin: number;
  cout: number;
  hw: number;
  k: number;
  channelsLast: boolean;
  bf16: boolean;
  pass: 'forward' | 'forward+backward';
}

function convStep(cfg: ConvConfig): () => void {
  const g = new T.Generator(0);
  const fmt = cfg.channelsLast ? 'channels_last' : 'contiguous';
  const x = T.keep(T.randn([cfg.batch, cfg.cin, cfg.hw, cfg.hw], { generator: g }).contiguous(fmt));
  const w = T.keep(
    T.tidy(() => T.randn([cfg.cout, cfg.cin, cfg.k, cfg.k], { generator: g }).mul(0.05).contiguous(fmt)),
  );
  const b = T.keep(T.zeros([cfg.cout]));
  const conv = () => T.autocast({ enabled: cfg.bf16 }, () => F.conv2d(x, w, b, { padding: cfg.k >> 1 }));
  if (cfg.pass === 'forward') return () => T.noGrad(() => conv().dispose());
  for (const t of [x, w, b]) t.requiresGrad_();
  let gout: T.Tensor | null = null;
  return () =>
    T.tidy(() => {
      const y = conv();
      gout ??= T.keep(T.tidy(() => T.randn(y.shape, { generator: g }).to(y.dtype).contiguous(fmt)));
      y.backward(gout);
      for (const t of [x, w, b]) t.grad = null;
    });
}

export async function benchEngine(options: { reps: number }): Promise<void> {
  const threads = T.getNumThreads();
  const anchor = new TorchAnchor();
  const shape = { batch: 16, cin: 128, cout: 192, hw: 32, k: 3 };
  const gflop = (2 * shape.batch * shape.cout * shape.hw * shape.hw * shape.cin * shape.k * shape.k) / 1e9;
  const rows: string[][] = [];
  try {
    for (const pass of ['forward', 'forward+backward'] as const) {
      for (const [precision, bf16] of [
        ['fp32', false],
        ['bf16', true],
      ] as const) {
        for (const [layout, channelsLast] of [
          ['NCHW', false],
          ['channels_last', true],
        ] as const) {
          const cfg: ConvConfig = { ...shape, channelsLast, bf16, pass };
          // Alternate the two engines in rounds so that drift on a shared machine hits both.
          const ours: number[] = [];
          const theirs: number[] = [];
          const step = convStep(cfg);
          for (let round = 0; round < 3; round++) {
            ours.push(...timeSync(step, options.reps, round === 0 ? 3 : 1));
            theirs.push(...(await anchor.time('conv2d', cfg, options.reps, threads, round === 0 ? 3 : 1)));
          }
          const a = median(ours);
          const b = median(theirs);
          const flops = gflop * (pass === 'forward' ? 1 : 3);
          rows.push([
            `${precision} ${layout}`,
            pass,
            (a * 1e3).toFixed(2),
            (b * 1e3).toFixed(2),
            (flops / a).toFixed(0),
            (b / a).toFixed(3),
          ]);
          process.stdout.write('.');
        }
      }
    }
  } finally {
    anchor.close();
  }
  process.stdout.write('\n');
  console.log(
    `engine: conv2d ${shape.cin}->${shape.cout} ${shape.k}x${shape.k}, batch ${shape.batch} at ${shape.hw}x${shape.hw}, ` +
      `${threads} threads, median of ${3 * options.reps} (ratio = PyTorch time / micronet time; >= 1 means micronet is as fast or faster)`,
  );
  console.log(table(['config', 'pass', 'micronet ms', 'PyTorch ms', 'micronet GFLOP/s', 'ratio'], rows));
}
