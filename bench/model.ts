// `npm run bench -- model`: the seed GoogLeNet's training and eval throughput through micronet's
// own trainStep and SGD (the micronet-seed recipe's step: label-smoothed loss, masked gradients,
// Nesterov SGD, masks re-applied) and through PyTorch doing the same, in the same run, per layout
// and precision; and the eval fast path (BatchNorm folded into the convolutions) beside PyTorch's
// fastest eval.
import * as T from '../src/torch/index.js';
import { buildModel } from '../src/models/registry.js';
import { findRecipe } from '../src/recipes/index.js';
import { foldBatchNorm } from '../src/quant/prepare.js';
import { SGD, trainStep } from '../src/train/index.js';
import { TorchAnchor } from './support/anchor.js';
import { median, table, timeSync } from './support/timing.js';

interface ModelConfig { batch: number; channelsLast: boolean; bf16: boolean; mode: 'train' | 'eval'; folded?: boolean }

function modelStep(cfg: ModelConfig): { step: () => void; dispose: () => void } {
  const recipe = findRecipe('micronet-seed');
  const { model } = buildModel('googlenet', recipe.model.config, { generator: new T.Generator(0) });
  if (cfg.folded) foldBatchNorm(model);
  if (cfg.channelsLast) model.to({ memoryFormat: 'channels_last' });
  const g = new T.Generator(1);
  const x = T.keep(T.randn([cfg.batch, 3, 32, 32], { generator: g }).contiguous(cfg.channelsLast ? 'channels_last' : 'contiguous'));
  const y = T.keep(T.randint(0, 100, [cfg.batch], { generator: g }));
  const dispose = () => { model.dispose(); x.dispose(); y.dispose(); };
  if (cfg.mode === 'eval') {
    return { step: () => T.tidy(() => T.noGrad(() => { T.autocast({ enabled: cfg.bf16 }, () => model.forward(x, false)); })), dispose };
  }
  const optimizer = new SGD(model.namedParameters(), recipe.optimizer);
  const step = { ...recipe, precision: cfg.bf16 ? 'bfloat16' as const : 'float32' as const };
  return { step: () => { trainStep(model, optimizer, step, x, y, 0.1); }, dispose: () => { dispose(); optimizer.reset(); } };
}

export async function benchModel(options: { reps: number }): Promise<void> {
  const threads = T.getNumThreads();
  const anchor = new TorchAnchor();
  const perRound = Math.max(1, Math.round(options.reps / 2));
  const rows: string[][] = [];
  const time = async (ours: ModelConfig, theirs: ModelConfig) => {
    const a: number[] = [];
    const b: number[] = [];
    const { step, dispose } = modelStep(ours);
    for (let round = 0; round < 2; round++) {
      a.push(...timeSync(step, perRound, round === 0 ? 1 : 0));
      b.push(...await anchor.time('model', theirs, perRound, threads, round === 0 ? 1 : 0));
    }
    dispose();
    process.stdout.write('.');
    return [ours.batch / median(a), theirs.batch / median(b)] as const;
  };
  const configs = [['NCHW fp32', false, false], ['channels_last fp32', true, false], ['channels_last bf16', true, true]] as const;
  const evals: { name: string; pytorch: number }[] = [];
  try {
    for (const [name, channelsLast, bf16] of configs) {
      for (const [mode, batch] of [['train', 64], ['eval', 128]] as const) {
        const cfg: ModelConfig = { batch, channelsLast, bf16, mode };
        const [a, b] = await time(cfg, cfg);
        if (mode === 'eval') evals.push({ name, pytorch: b });
        rows.push([name, `${mode} (batch ${batch})`, a.toFixed(1), b.toFixed(1), (a / b).toFixed(3)]);
      }
    }
    // The fast path against PyTorch's fastest eval, BatchNorm folded on micronet's side only.
    const fastest = evals.reduce((x, y) => (y.pytorch > x.pytorch ? y : x));
    const [, channelsLast, bf16] = configs.find(([n]) => n === fastest.name)!;
    const cfg: ModelConfig = { batch: 128, channelsLast, bf16, mode: 'eval' };
    const [a, b] = await time({ ...cfg, folded: true }, cfg);
    rows.push([`${fastest.name}, BN folded`, 'eval (batch 128)', a.toFixed(1), b.toFixed(1), (a / b).toFixed(3)]);
  } finally {
    anchor.close();
  }
  process.stdout.write('\n');
  console.log(`model: the seed GoogLeNet, ${threads} threads, median of ${2 * perRound} steps each `
    + '(ratio = micronet img/s / PyTorch img/s; >= 1 means micronet is as fast or faster)');
  console.log(table(['config', 'pass', 'micronet img/s', 'PyTorch img/s', 'ratio'], rows));
}
