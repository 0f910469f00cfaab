// `npm run bench -- model`: the seed GoogLeNet's training and eval throughput through micronet
// and through PyTorch in the same run, per layout and precision.
import * as T from '../src/torch/index.js';
import { GoogLeNet } from '../src/models/googlenet.js';
import { TorchAnchor } from './support/anchor.js';
import { median, table, timeSync } from './support/timing.js';

const { F } = T;

interface ModelConfig { batch: number; channelsLast: boolean; bf16: boolean; mode: 'train' | 'eval' }

function modelStep(cfg: ModelConfig): { step: () => void; dispose: () => void } {
  const model = new GoogLeNet(undefined, { generator: new T.Generator(0) });
  const fmt = cfg.channelsLast ? 'channels_last' : 'contiguous';
  if (cfg.channelsLast) model.to({ memoryFormat: 'channels_last' });
  const g = new T.Generator(1);
  const x = T.keep(T.randn([cfg.batch, 3, 32, 32], { generator: g }).contiguous(fmt));
  const y = T.keep(T.randint(0, 100, [cfg.batch], { generator: g }));
  const dispose = () => { model.dispose(); x.dispose(); y.dispose(); };
  const autocast = <R>(fn: () => R) => T.autocast({ enabled: cfg.bf16 }, fn);
  if (cfg.mode === 'eval') return { step: () => T.tidy(() => T.noGrad(() => { autocast(() => model.forward(x, false)); })), dispose };
  // SGD with Nesterov momentum and weight decay, as the seed recipe trains.
  const params = model.parameters();
  const momentum = params.map((p) => T.keep(T.zerosLike(p)));
  const step = () => T.tidy(() => {
    const loss = autocast(() => F.crossEntropy(model.forward(x, true), y, { labelSmoothing: 0.1 }));
    loss.backward();
    T.noGrad(() => params.forEach((p, i) => T.tidy(() => {
      const d = p.grad!.add(p, 5e-4);
      momentum[i]!.mul_(0.9).add_(d);
      p.sub_(d.add(momentum[i]!, 0.9), 0.1);
      p.grad = null;
    })));
  });
  return { step, dispose: () => { dispose(); momentum.forEach((m) => m.dispose()); } };
}

export async function benchModel(options: { reps: number }): Promise<void> {
  const threads = T.getNumThreads();
  const anchor = new TorchAnchor();
  const perRound = Math.max(1, Math.round(options.reps / 2));
  const rows: string[][] = [];
  try {
    for (const [name, channelsLast, bf16] of [['NCHW fp32', false, false], ['channels_last fp32', true, false], ['channels_last bf16', true, true]] as const) {
      for (const [mode, batch] of [['train', 64], ['eval', 128]] as const) {
        const cfg: ModelConfig = { batch, channelsLast, bf16, mode };
        const ours: number[] = [];
        const theirs: number[] = [];
        const { step, dispose } = modelStep(cfg);
        for (let round = 0; round < 2; round++) {
          ours.push(...timeSync(step, perRound, round === 0 ? 1 : 0));
          theirs.push(...await anchor.time('model', cfg, perRound, threads, round === 0 ? 1 : 0));
        }
        dispose();
        const a = batch / median(ours);
        const b = batch / median(theirs);
        rows.push([name, `${mode} (batch ${batch})`, a.toFixed(1), b.toFixed(1), (a / b).toFixed(3)]);
        process.stdout.write('.');
      }
    }
  } finally {
    anchor.close();
  }
  process.stdout.write('\n');
  console.log(`model: the seed GoogLeNet, ${threads} threads, median of ${2 * perRound} steps each `
    + '(ratio = micronet img/s / PyTorch img/s; >= 1 means micronet is as fast or faster)');
  console.log(table(['config', 'pass', 'micronet img/s', 'PyTorch img/s', 'ratio'], rows));
}
