// The seed GoogLeNet's training and eval throughput through micronet's own trainStep, SGD and
// (on CUDA) captured step, beside PyTorch doing the same seed step in the same run: per layout and
// precision, and one training epoch end to end through the data loader.
import * as T from '../torch/index.js';
import { buildModel } from '../models/registry.js';
import type { Module } from '../nn/index.js';
import { generatedSplit } from '../data/index.js';
import { applyOverrides, findRecipe } from '../recipes/index.js';
import { prepareFastEval } from '../train/evaluate.js';
import { CudaStep } from '../train/cuda-step.js';
import { StepMeter } from '../train/step-meter.js';
import { readStep, trainStep, type StepRecipe } from '../train/step.js';
import { createOptimizer, type Optimizer } from '../optim/index.js';
import { train } from '../train/trainer.js';
import { TorchAnchor } from './anchor.js';
import { benchDeploy, type DeployFigures } from './deploy.js';
import { median, timeSync } from './timing.js';

/** One configuration's figures, img/s; null where not measured. */
interface ConfigFigures {
  name: string;
  train_img_s: number | null;
  train_img_s_pytorch: number | null;
  eval_img_s: number | null;
  eval_img_s_pytorch: number | null;
  /** CUDA: PyTorch's whole step captured into a CUDA graph. */
  train_img_s_pytorch_graph?: number | null;
  /** With --compile: torch.compile of the training step (CUDA: mode="reduce-overhead", with fused SGD). */
  train_img_s_pytorch_compile?: number | null;
  /** CPU, with --compile: torch.compile of the eval pass with inductor's freezing. */
  eval_img_s_pytorch_compile?: number | null;
}

/** What `micronet bench` measures (the --json object). */
export interface BenchReport {
  device: string;
  /** The anchor's torch.__version__ and the release the addon is built against: the same engine. */
  pytorch_version: string;
  libtorch_version: string;
  batch: number;
  configs: ConfigFigures[];
  /** One training epoch end to end through the loader, and PyTorch's DataLoader + torchvision. */
  epoch_img_s: number | null;
  epoch_img_s_pytorch: number | null;
  epoch_images: number;
  /** With --deploy (CPU): the ONNX exports in onnxruntime, and PyTorch's fastest eval at batch 1 beside them. */
  deploy?: DeployFigures[];
  latency_ms_batch1_pytorch?: number | null;
}

interface BenchOptions {
  device: T.Device;
  /** Timed repetitions per figure (medians are reported). */
  reps: number;
  batch: number;
  /** Images of the end-to-end epoch (0: none). */
  epochImages: number;
  /** Loader workers of the end-to-end epoch. */
  workers: number;
  /** Also time torch.compile (minutes of compiling). */
  compile: boolean;
  /** Also time the ONNX exports in onnxruntime (CPU). */
  deploy?: boolean;
  progress?: (what: string) => void;
}

interface Layout {
  channelsLast: boolean;
  bf16: boolean;
}
type Mode = 'train' | 'eval';

const layouts: [string, Layout][] = [
  ['NCHW fp32', { channelsLast: false, bf16: false }],
  ['channels_last fp32', { channelsLast: true, bf16: false }],
  ['channels_last bf16', { channelsLast: true, bf16: true }],
];

const seedRecipe = () => findRecipe('micronet-seed');

/** A timed unit of micronet work: `steps` steps, finished on the device. */
interface Work {
  run: () => void;
  steps: number;
  dispose: () => void;
}

function micronetWork(
  device: T.Device,
  batch: number,
  layout: Layout,
  mode: Mode,
  variant: 'eager' | 'captured' | 'folded',
): Work {
  const cuda = device !== 'cpu';
  const recipe = seedRecipe();
  const { model } = buildModel('googlenet', recipe.model.config, { generator: new T.Generator(0) });
  model.to({ device, ...(layout.channelsLast ? { memoryFormat: 'channels_last' as const } : {}) });
  if (variant === 'folded') prepareFastEval(model, { dtype: layout.bf16 ? 'bfloat16' : 'float32' });
  const g = new T.Generator(1);
  const format = layout.channelsLast ? 'channels_last' : 'contiguous';
  const x = T.keep(T.randn([batch, 3, 32, 32], { generator: g }).contiguous(format).to(device));
  const y = T.keep(T.randint(0, 100, [batch], { generator: g }).to(device));
  const steps = cuda ? 20 : 1;
  const disposeData = () => {
    model.dispose();
    x.dispose();
    y.dispose();
  };
  const finish = () => {
    if (cuda) T.cuda.synchronize();
  };
  const deviceType = cuda ? 'cuda' : 'cpu';
  if (mode === 'eval') {
    const forward = () =>
      T.tidy(() =>
        T.noGrad(() => {
          T.autocast({ deviceType, enabled: layout.bf16 }, () => model.forward(x, false));
        }),
      );
    return {
      run: () => {
        for (let i = 0; i < steps; i++) forward();
        finish();
      },
      steps,
      dispose: disposeData,
    };
  }
  const optimizer = createOptimizer(model.namedParameters(), recipe.optimizer);
  const stepRecipe = { ...recipe, precision: layout.bf16 ? ('bfloat16' as const) : ('float32' as const) };
  if (!cuda) {
    // The trainer's CPU step: figures read after every step.
    return {
      run: () => {
        T.tidy(() => readStep(trainStep(model, optimizer, stepRecipe, x, y, 0.1)));
      },
      steps,
      dispose: () => {
        disposeData();
        optimizer.reset();
      },
    };
  }
  return cudaTrainWork({
    device,
    batch,
    captured: variant === 'captured',
    model,
    optimizer,
    stepRecipe,
    x,
    y,
    steps,
    disposeData,
  });
}

/** The trainer's CUDA step as bench work (see micronetWork). */
function cudaTrainWork(w: {
  device: T.Device;
  batch: number;
  captured: boolean;
  model: Module;
  optimizer: Optimizer;
  stepRecipe: StepRecipe;
  x: T.Tensor;
  y: T.Tensor;
  steps: number;
  disposeData: () => void;
}): Work {
  const { device, batch, captured, model, optimizer, stepRecipe, x, y, steps, disposeData } = w;
  // The trainer's CUDA step: on a side stream, figures gathered on the device and read once per repetition.
  const stream = new T.CudaStream();
  const cudaStep = new CudaStep(device, batch, captured, (why) => {
    throw new Error(`capture failed: ${why}`);
  });
  const run = () =>
    stream.run(() => {
      const meter = new StepMeter(device, steps);
      try {
        for (let i = 0; i < steps; i++)
          T.tidy(() =>
            meter.record(cudaStep.run(model, optimizer, stepRecipe, x, y, 0.1), { batch: i, size: batch, lr: 0.1 }),
          );
        meter.read();
      } finally {
        meter.dispose();
      }
    });
  return {
    run,
    steps,
    dispose: () => {
      stream.run(() => cudaStep.dispose());
      disposeData();
      optimizer.reset();
    },
  };
}

function timeMicronet(work: Work, reps: number, batch: number): number {
  try {
    const seconds = timeSync(work.run, reps, 2);
    return (batch * work.steps) / median(seconds);
  } finally {
    work.dispose();
  }
}

async function timePytorch(
  anchor: TorchAnchor,
  device: T.Device,
  batch: number,
  layout: Layout,
  mode: Mode,
  capture: 'eager' | 'graph' | 'compile',
  reps: number,
): Promise<number> {
  const cuda = device !== 'cpu';
  const steps = cuda ? 20 : 1;
  const config = { batch, ...layout, mode, device: cuda ? 'cuda' : 'cpu', steps, capture };
  const seconds = await anchor.time('model', config, reps, T.getNumThreads(), capture === 'compile' ? 3 : 2);
  return (batch * steps) / median(seconds);
}

/** One training epoch of generated images through `micronet train`'s loop (the second epoch's rate: the first warms up). */
async function micronetEpoch(
  device: T.Device,
  images: number,
  batch: number,
  workers: number,
  layout: Layout,
  outDir: string,
): Promise<number> {
  const recipe = applyOverrides(seedRecipe(), [
    `data.batchSize=${batch}`,
    `data.workers=${workers}`,
    'epochs=2',
    'schedule.milestones=[2]',
    'pruning.events=[]',
    `precision=${layout.bf16 ? 'bfloat16' : 'float32'}`,
    `channelsLast=${layout.channelsLast}`,
  ]);
  const run = await train(recipe, {
    dataDir: '',
    outDir,
    device,
    data: { train: generatedSplit(images, 1, 'train'), test: generatedSplit(batch, 1, 'test') },
  });
  run.model.dispose();
  return run.history.at(-1)!.imagesPerSecond;
}

/** One layout's eager train and eval figures beside PyTorch's (and torch.compile's on the CPU, when asked). */
async function layoutRow(anchor: TorchAnchor, o: BenchOptions, name: string, layout: Layout): Promise<ConfigFigures> {
  const cuda = o.device !== 'cpu';
  const say = o.progress ?? (() => {});
  say(name);
  const row: ConfigFigures = {
    name,
    train_img_s: null,
    train_img_s_pytorch: null,
    eval_img_s: null,
    eval_img_s_pytorch: null,
  };
  row.train_img_s = timeMicronet(micronetWork(o.device, o.batch, layout, 'train', 'eager'), o.reps, o.batch);
  row.train_img_s_pytorch = await timePytorch(anchor, o.device, o.batch, layout, 'train', 'eager', o.reps);
  row.eval_img_s = timeMicronet(micronetWork(o.device, o.batch, layout, 'eval', 'eager'), o.reps, o.batch);
  row.eval_img_s_pytorch = await timePytorch(anchor, o.device, o.batch, layout, 'eval', 'eager', o.reps);
  if (o.compile && !cuda) {
    say(`${name}, torch.compile`);
    row.train_img_s_pytorch_compile = await compiled(
      () => timePytorch(anchor, o.device, o.batch, layout, 'train', 'compile', o.reps),
      say,
    );
    row.eval_img_s_pytorch_compile = await compiled(
      () => timePytorch(anchor, o.device, o.batch, layout, 'eval', 'compile', o.reps),
      say,
    );
  }
  return row;
}

/** Every figure of `micronet bench`, measured in one run beside the PyTorch anchor. */
export async function benchModels(o: BenchOptions, scratch: () => string): Promise<BenchReport> {
  const cuda = o.device !== 'cpu';
  const anchor = new TorchAnchor();
  const say = o.progress ?? (() => {});
  const configs: ConfigFigures[] = [];
  try {
    for (const [name, layout] of layouts) {
      configs.push(await layoutRow(anchor, o, name, layout));
    }
    const fastest = configs.reduce((a, b) => ((b.eval_img_s_pytorch ?? 0) > (a.eval_img_s_pytorch ?? 0) ? b : a));
    const fastLayout = layouts.find(([n]) => n === fastest.name)![1];
    say('eval fast path (BatchNorm folded; on the CPU each conv and its ReLU one prepacked oneDNN call)');
    configs.push({
      name: `${fastest.name}, eval fast path`,
      train_img_s: null,
      train_img_s_pytorch: null,
      eval_img_s: timeMicronet(micronetWork(o.device, o.batch, fastLayout, 'eval', 'folded'), o.reps, o.batch),
      eval_img_s_pytorch: fastest.eval_img_s_pytorch,
      ...(fastest.eval_img_s_pytorch_compile !== undefined
        ? { eval_img_s_pytorch_compile: fastest.eval_img_s_pytorch_compile }
        : {}),
    });
    if (cuda) {
      const [name, layout] = layouts[2]!;
      say(`${name}, captured`);
      const row: ConfigFigures = {
        name: `${name}, captured step`,
        train_img_s: timeMicronet(micronetWork(o.device, o.batch, layout, 'train', 'captured'), o.reps, o.batch),
        train_img_s_pytorch: configs[2]!.train_img_s_pytorch,
        eval_img_s: null,
        eval_img_s_pytorch: null,
        train_img_s_pytorch_graph: await timePytorch(anchor, o.device, o.batch, layout, 'train', 'graph', o.reps),
      };
      if (o.compile) {
        say('torch.compile');
        row.train_img_s_pytorch_compile = await compiled(
          () => timePytorch(anchor, o.device, o.batch, layout, 'train', 'compile', o.reps),
          say,
        );
      }
      configs.push(row);
    }
    let epoch: number | null = null,
      epochPytorch: number | null = null;
    if (o.epochImages > 0) {
      const layout = cuda ? layouts[2]![1] : layouts[0]![1];
      say(`epoch of ${o.epochImages} images`);
      epoch = await micronetEpoch(o.device, o.epochImages, o.batch, o.workers, layout, scratch());
      const seconds = await anchor.time(
        'epoch',
        { n: o.epochImages, batch: o.batch, workers: o.workers, device: cuda ? 'cuda' : 'cpu', ...layout },
        1,
        T.getNumThreads(),
        1,
      );
      epochPytorch = (Math.floor(o.epochImages / o.batch) * o.batch) / median(seconds);
    }
    const deploy = o.deploy && !cuda ? await deployFigures(anchor, o, configs) : {};
    return {
      ...deploy,
      device: deviceName(o.device),
      pytorch_version: await anchor.version(),
      libtorch_version: T.engineVersions().libtorch,
      batch: o.batch,
      configs,
      epoch_img_s: epoch,
      epoch_img_s_pytorch: epochPytorch,
      epoch_images: o.epochImages,
    };
  } finally {
    anchor.close();
  }
}

/** The onnxruntime rows, beside PyTorch's fastest eval (at the bench's batch, and at batch 1 in that layout). */
async function deployFigures(
  anchor: TorchAnchor,
  o: BenchOptions,
  configs: ConfigFigures[],
): Promise<Pick<BenchReport, 'deploy' | 'latency_ms_batch1_pytorch'>> {
  const say = o.progress ?? (() => {});
  const fastest = configs.reduce((a, b) => ((b.eval_img_s_pytorch ?? 0) > (a.eval_img_s_pytorch ?? 0) ? b : a));
  const layout = layouts.find(([n]) => fastest.name.startsWith(n))?.[1] ?? layouts[0]![1];
  say('PyTorch eval at batch 1');
  const pytorchBatch1 = await timePytorch(anchor, o.device, 1, layout, 'eval', 'eager', o.reps);
  return {
    deploy: await benchDeploy(o, fastest.eval_img_s_pytorch, say),
    latency_ms_batch1_pytorch: 1000 / pytorchBatch1,
  };
}

/** A torch.compile figure, or null when compiling failed: the other figures stand. */
async function compiled(time: () => Promise<number>, say: (what: string) => void): Promise<number | null> {
  try {
    return await time();
  } catch (e) {
    say(`torch.compile failed, no figure: ${(e as Error).message}`);
    return null;
  }
}

function deviceName(device: T.Device): string {
  return device === 'cpu' ? `cpu (${T.getNumThreads()} threads)` : device;
}
