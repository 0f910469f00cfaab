// `micronet bench`: the seed GoogLeNet's training and eval throughput beside PyTorch's in the
// same run (eager, and on CUDA also a whole-step CUDA graph and optionally torch.compile), and one
// training epoch end to end beside PyTorch's DataLoader.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchModels, type BenchReport } from '../bench/model.js';
import { table } from '../bench/timing.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';
import { checkedDevice, checkedWorkers, deviceOption, threadsOption, useThreads } from './options.js';

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'time training and eval of the seed GoogLeNet beside PyTorch (python3 with torch) in the same run',
  options: {
    device: deviceOption,
    threads: {
      ...threadsOption,
      help: "the engine's threads, PyTorch's alike (default: OMP_NUM_THREADS, else the cores)",
    },
    json: { type: 'boolean', help: 'print one JSON object instead of the table' },
    reps: { type: 'number', help: 'timed repetitions per figure (the median is reported)', default: 5 },
    batch: { type: 'number', help: 'batch size (default: 128 on CUDA, 64 on the CPU)' },
    'epoch-images': {
      type: 'number',
      help: 'images of the end-to-end epoch, 0 for none (default: 50000 on CUDA, 640 on the CPU)',
    },
    workers: { type: 'number', help: 'loader workers of the end-to-end epoch (default: 8 on CUDA, 1 on the CPU)' },
    deploy: {
      type: 'boolean',
      help: 'also time the seed GoogLeNet exported to ONNX in onnxruntime, fp32 and int8 QDQ, at the batch and at batch 1 (CPU)',
    },
    compile: {
      type: 'boolean',
      help: 'also time torch.compile: CUDA, the training step (mode="reduce-overhead"); CPU, training and eval (with freezing) per layout (minutes of compiling)',
    },
  },
  async run(o) {
    useThreads(o.threads);
    const device = checkedDevice(o.device);
    const cuda = device !== 'cpu';
    const batch = o.batch ?? (cuda ? 128 : 64);
    const epochImages = o['epoch-images'] ?? (cuda ? 50000 : 640);
    const workers = o.workers ?? (cuda ? Math.min(8, availableParallelism()) : 1);
    for (const [name, v, min] of [
      ['--reps', o.reps, 1],
      ['--batch', batch, 1],
      ['--epoch-images', epochImages, 0],
    ] as const) {
      if (!Number.isInteger(v) || v < min) throw new UsageError(`${name} must be an integer >= ${min}, not ${v}`);
    }
    checkedWorkers(workers);
    const scratch: string[] = [];
    try {
      const report = await benchModels(
        {
          device,
          reps: o.reps,
          batch,
          epochImages,
          workers,
          compile: o.compile ?? false,
          deploy: o.deploy ?? false,
          progress: o.json ? undefined : (what) => process.stderr.write(`bench: ${what}\n`),
        },
        () => {
          const d = mkdtempSync(join(tmpdir(), 'micronet-bench-'));
          scratch.push(d);
          return d;
        },
      );
      console.log(o.json ? JSON.stringify(report) : render(report, o.reps));
    } finally {
      for (const d of scratch) rmSync(d, { recursive: true, force: true });
    }
  },
});

const fmt = (v: number | null | undefined) => (v == null ? '-' : v.toFixed(v < 100 ? 1 : 0));
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null ? '-' : (a / b).toFixed(3);

function render(r: BenchReport, reps: number): string {
  const graph = r.configs.some((c) => c.train_img_s_pytorch_graph != null);
  const compiled = r.configs.some((c) => c.train_img_s_pytorch_compile != null);
  const evalCompiled = r.configs.some((c) => c.eval_img_s_pytorch_compile != null);
  const header = [
    'config',
    'train',
    'PyTorch',
    'ratio',
    ...(graph ? ['PyTorch graph', 'ratio'] : []),
    ...(compiled ? ['torch.compile', 'ratio'] : []),
    'eval',
    'PyTorch',
    'ratio',
    ...(evalCompiled ? ['torch.compile', 'ratio'] : []),
  ];
  const rows = r.configs.map((c) => [
    c.name,
    fmt(c.train_img_s),
    fmt(c.train_img_s_pytorch),
    ratio(c.train_img_s, c.train_img_s_pytorch),
    ...(graph ? [fmt(c.train_img_s_pytorch_graph), ratio(c.train_img_s, c.train_img_s_pytorch_graph)] : []),
    ...(compiled ? [fmt(c.train_img_s_pytorch_compile), ratio(c.train_img_s, c.train_img_s_pytorch_compile)] : []),
    fmt(c.eval_img_s),
    fmt(c.eval_img_s_pytorch),
    ratio(c.eval_img_s, c.eval_img_s_pytorch),
    ...(evalCompiled ? [fmt(c.eval_img_s_pytorch_compile), ratio(c.eval_img_s, c.eval_img_s_pytorch_compile)] : []),
  ]);
  const lines = [
    `bench: the seed GoogLeNet on ${r.device}, batch ${r.batch}, img/s, medians of ${reps}, PyTorch ${r.pytorch_version} ` +
      `beside micronet on libtorch ${r.libtorch_version} (ratio: micronet / PyTorch; >= 1 is as fast or faster)`,
    table(header, rows),
  ];
  if (r.epoch_img_s !== null) {
    lines.push(
      `epoch of ${r.epoch_images} generated images end to end: micronet train ${fmt(r.epoch_img_s)} img/s, ` +
        `PyTorch DataLoader + torchvision ${fmt(r.epoch_img_s_pytorch)} img/s, ratio ${ratio(r.epoch_img_s, r.epoch_img_s_pytorch)}`,
    );
  }
  if (r.deploy) {
    lines.push(
      `onnxruntime on the CPU (the seed network exported; PyTorch: its fastest eval above, and at batch 1 ${fmt(r.latency_ms_batch1_pytorch)} ms)`,
      table(
        ['config', `eval (batch ${r.batch})`, 'PyTorch', 'ratio', 'latency, batch 1 (ms)', 'PyTorch', 'ratio'],
        r.deploy.map((d) => [
          d.name,
          fmt(d.eval_img_s),
          fmt(d.eval_img_s_pytorch),
          ratio(d.eval_img_s, d.eval_img_s_pytorch),
          fmt(d.latency_ms_batch1),
          fmt(r.latency_ms_batch1_pytorch),
          ratio(r.latency_ms_batch1_pytorch, d.latency_ms_batch1),
        ]),
      ),
    );
  }
  return lines.join('\n');
}
