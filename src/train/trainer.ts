// The training loop of a recipe: epochs of SGD steps with the recipe's schedule, loss, pruning
// events and gradient masking, an evaluation and an atomic checkpoint after every epoch, exact
// resumption (also mid-epoch, after an interruption), a clean stop on a non-finite loss,
// TensorBoard scalars, and data-parallel training over a process group.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { describeData, Loader, loadDataset, type DataSource, type Split } from '../data/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildModel, modelConfig } from '../models/registry.js';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { planFor, planOf, prepareQuantized, setObserving } from '../quant/prepare.js';
import { saveQuantizedCheckpoint } from '../checkpoint/quantized-file.js';
import { layerSparsity, sparsity, type PruneResult } from '../prune/prune.js';
import type { Recipe } from '../recipes/index.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { learningRate } from './schedule.js';
import { createOptimizer, type Optimizer } from '../optim/index.js';
import { beginEpoch, observingAt, quantizedAt, trainStep, TrainingError } from './step.js';
import { CudaStep } from './cuda-step.js';
import { StepMeter } from './step-meter.js';
import {
  bestCheckpoint,
  lastCheckpoint,
  metricsFile,
  quantizedCheckpoint,
  readRunId,
  RunDirectory,
  writeRunId,
} from '../checkpoint/run-dir.js';
import { Replicas, type World } from './data-parallel.js';
import { EventFileWriter } from '../io/tensorboard.js';
import {
  disposeLoadedState,
  loadTrainState,
  parentRun,
  readTrainState,
  restoreGenerators,
  saveTrainState,
  type EpochProgress,
  type LoadedTrainState,
  type TrainState,
} from '../checkpoint/train-file.js';
import { layerSparsityTag, metricsLine, metricTags, stepTags, type EpochMetrics } from '../checkpoint/metrics.js';
import { counted, flatten } from '../text.js';

/** Callbacks of a run, all optional. */
export interface TrainEvents {
  /** After every step (progress display, custom monitoring). */
  step?(info: {
    epoch: number;
    batch: number;
    batches: number;
    loss: number;
    lr: number;
    imagesPerSecond: number;
    model: Module;
  }): void;
  /** After every epoch's evaluation and checkpoint. */
  epoch?(metrics: EpochMetrics): void;
  /** After each pruning event, with what it pruned per layer. */
  prune?(epoch: number, results: PruneResult[]): void;
  /** Status lines: start or resumption, phase changes, stops. */
  message?(text: string): void;
}

/** Where a run reads its data and writes its checkpoints, on which device, and how it reports and stops. */
export interface TrainOptions {
  dataDir: string;
  outDir: string;
  /** Where to train (default cpu). */
  device?: T.Device;
  /** Continue the run saved in outDir. */
  resume?: boolean;
  /** Asked after every step; true saves the position and stops (Ctrl-C). */
  shouldStop?: () => boolean;
  events?: TrainEvents;
  /** Data already loaded (tests); otherwise read from dataDir. */
  data?: { train: Split; test: Split };
  /** What the data is, recorded in the checkpoints (default: dataDir described; unknown for data given in memory). */
  dataSource?: DataSource;
  /**
   * This process's place in a data-parallel run: the recipe's batch is split over the ranks,
   * gradients are averaged, and only rank 0 writes files (every rank must see the run directory
   * to resume). Without it, the process trains alone.
   */
  world?: World;
}

/** How a run ended: the model, its history, the last evaluation (null if none ran) and its checkpoints. */
export interface TrainResult {
  model: Module;
  history: EpochMetrics[];
  final: EvalResult | null;
  /** False when stopped early (shouldStop). */
  completed: boolean;
  /** The last checkpoint (last.safetensors). */
  checkpoint: string;
  /** A completed quantization-aware run's deployable integer checkpoint; null otherwise. */
  quantized: string | null;
}

export { TrainingError };

/** Resuming a run that has done all its epochs: nothing to train; its history is attached. */
export class RunFinishedError extends TrainingError {
  constructor(
    message: string,
    readonly history: EpochMetrics[],
  ) {
    super(message);
  }
}

/** A run as it goes: the model and optimizer, and what its training checkpoint records of it. */
interface Run {
  readonly recipe: Recipe;
  readonly model: Module;
  readonly optimizer: Optimizer;
  state: TrainState;
  /** The last evaluation (null before the first). */
  final: EvalResult | null;
}

/** Where a run writes, on which device and in which group, and who is told. */
interface Place {
  readonly options: TrainOptions;
  readonly device: T.Device;
  readonly events: TrainEvents;
  readonly replicas: Replicas;
  /** last.safetensors */
  readonly last: string;
}

/** What stays fixed while a run goes: its place, its data, its TensorBoard file. */
interface Setting extends Place {
  readonly trainLoader: Loader;
  readonly testLoader: Loader;
  /** Steps in an epoch. */
  readonly batches: number;
  /** Rank 0's TensorBoard file; null on the other ranks. */
  readonly board: EventFileWriter | null;
  /** TensorBoard's step of a position: training steps, after the parent run's (stepOffset). */
  readonly step: (epoch: number, batch: number) => number;
  /** On CUDA: the (captured) step, run on a stream of its own; null on the CPU. */
  readonly cudaStep: CudaStep | null;
}

/** Runs (or with options.resume, continues) a recipe in options.outDir, holding the directory's lock meanwhile. */
export async function train(recipe: Recipe, options: TrainOptions): Promise<TrainResult> {
  const replicas = new Replicas(options.world ?? null);
  // One process writes the directory: rank 0 holds its lock.
  const lock = replicas.main ? RunDirectory.open(options.outDir) : null;
  try {
    const place: Place = {
      options,
      device: options.device ?? 'cpu',
      events: options.events ?? {},
      replicas,
      last: lastCheckpoint(options.outDir),
    };
    const run = startRun(recipe, place);
    const setting = prepare(run, place);
    try {
      for (let epoch = run.state.position.epoch; epoch <= recipe.epochs; epoch++) {
        const lr = await trainEpoch(run, setting, epoch);
        if (lr === null) return stopped(run, setting, `stopped at epoch ${epoch}, batch ${run.state.position.batch}`);
        await endEpoch(run, setting, epoch, lr);
        if (replicas.anyStop(options.shouldStop?.() ?? false) && epoch < recipe.epochs)
          return stopped(run, setting, `stopped after epoch ${epoch}`);
      }
    } finally {
      await setting.trainLoader.close();
      await setting.testLoader.close();
      if (setting.cudaStep) {
        setting.cudaStep.dispose();
        T.CudaStream.restoreDefault();
      }
    }
    return { ...result(run, setting, true), quantized: writeQuantized(run, setting) };
  } finally {
    lock?.release();
  }
}

/** The model, optimizer and state a run starts or resumes with. */
function startRun(recipe: Recipe, { options, device, events, last, replicas }: Place): Run {
  if (!options.resume && existsSync(last))
    throw new TrainingError(
      `${options.outDir} already holds a run: continue it with --resume ${options.outDir}, or choose another directory`,
    );
  const saved = options.resume ? loadSaved(last, recipe, options.outDir) : null;
  if (saved && saved.position.epoch > recipe.epochs) {
    disposeLoadedState(saved);
    throw new RunFinishedError(
      `the run in ${options.outDir} is finished: all ${counted(recipe.epochs, 'epoch')} are done; its model is ${last}`,
      saved.history,
    );
  }
  T.manualSeed(recipe.seed);
  const { model } = buildModel(recipe.model.name, recipe.model.config, { generator: new T.Generator(recipe.seed) });
  const q = recipe.quantization;
  if (saved) {
    // A run saved during quantization-aware training holds a folded, quantized model.
    if (quantizedAt(q, saved.position)) {
      prepareQuantized(model, planFor(model, q!));
      setObserving(model, observingAt(q!, saved.position.epoch));
    }
    model.loadStateDict(saved.model, { what: last });
  } else if (recipe.initialWeights) {
    loadInitialWeights(model, recipe);
  }
  // Placed before the optimizer takes hold of the parameters: moving replaces them.
  if (device !== 'cpu' || recipe.channelsLast)
    model.to({ device, ...(recipe.channelsLast ? { memoryFormat: 'channels_last' } : {}) });
  const optimizer = createOptimizer(model.namedParameters(), recipe.optimizer);
  // What the run reads now and where it trains are recorded afresh by every process that continues it.
  const data = options.dataSource ?? (options.data ? undefined : describeData(options.dataDir));
  const now = { dataDir: options.dataDir, ...(data ? { data } : {}), device };
  let state: TrainState = {
    runId: randomUUID(),
    recipe,
    ...now,
    stepOffset: parentRun(recipe.initialWeights)?.state.lastStep ?? 0,
    position: { epoch: 1, batch: 0 },
    history: [],
    progress: emptyProgress(),
    bestTop1: -1,
  };
  if (saved) {
    optimizer.loadState(saved.optimizer);
    restoreGenerators(saved.generators, device);
    disposeLoadedState(saved);
    // The saved sums of an interrupted epoch are the whole group's: rank 0 carries them on.
    const progress = replicas.main ? saved.progress : emptyProgress();
    state = {
      // A run of an earlier release gets its identity now.
      runId: saved.runId ?? readRunId(options.outDir) ?? state.runId,
      recipe,
      ...now,
      stepOffset: saved.stepOffset ?? 0,
      position: saved.position,
      history: saved.history,
      progress,
      bestTop1: saved.bestTop1,
    };
    events.message?.(
      `resuming ${recipe.name} at epoch ${state.position.epoch}${state.position.batch ? `, batch ${state.position.batch}` : ''} ${where(device, recipe)}`,
    );
  } else {
    events.message?.(
      `training ${recipe.name} (${recipe.description}) on ${options.dataDir}, writing ${options.outDir}, ${where(device, recipe)}`,
    );
  }
  replicas.syncState(model, optimizer);
  return { recipe, model, optimizer, state, final: null };
}

/** Where the run computes: the device, the engine's threads and the loader's. */
const where = (device: T.Device, recipe: Recipe) =>
  `on ${device} with ${counted(T.getNumThreads(), 'engine thread')}` +
  (recipe.data.workers ? ` and ${counted(recipe.data.workers, 'loader thread')}` : ' (loading on the main thread)');

/** The run's data, split over the group, and its TensorBoard file. */
function prepare(run: Run, place: Place): Setting {
  const { options, last, replicas } = place;
  const { recipe, state } = run;
  if (recipe.data.batchSize % replicas.size) {
    throw new TrainingError(
      `the batch of ${recipe.data.batchSize} cannot be split over ${replicas.size} processes: choose a process count that divides it`,
    );
  }
  const batchSize = recipe.data.batchSize / replicas.size;
  const data = options.data ?? loadDataset(options.dataDir, { dataset: recipe.data.dataset });
  const common = {
    batchSize,
    workers: recipe.data.workers,
    layout: recipe.channelsLast ? ('channels_last' as const) : ('nchw' as const),
  };
  const trainLoader = new Loader({
    ...common,
    data: data.train,
    pipeline: recipe.data.trainPipeline,
    seed: recipe.seed,
    shuffle: true,
    shard: replicas.shard(true),
  });
  const testLoader = new Loader({
    ...common,
    data: data.test,
    pipeline: recipe.data.testPipeline,
    shuffle: false,
    shard: replicas.shard(false),
  });
  const batches = trainLoader.length;
  if (state.position.batch >= batches) {
    throw new TrainingError(
      `${last}: the saved position is batch ${state.position.batch} of epoch ${state.position.epoch}, ` +
        `but an epoch of this data has ${counted(batches, 'batch', 'batches')} (other data than the run's?)`,
    );
  }
  const board = replicas.main ? new EventFileWriter(options.outDir) : null;
  const offset = state.stepOffset ?? 0;
  const step = (epoch: number, batch: number) => offset + (epoch - 1) * batches + batch;
  // A resumed run marks its restart: TensorBoard drops what a killed process logged past the checkpoint.
  if (options.resume) board?.start(step(state.position.epoch, state.position.batch) + 1);
  else board?.hparams(recipeHparams(recipe), offset);
  let cudaStep: CudaStep | null = null;
  if (place.device.startsWith('cuda')) {
    // Graphs are captured on a side stream; the whole run goes there, so its work stays in one order.
    new T.CudaStream().enter();
    cudaStep = new CudaStep(
      place.device,
      batchSize,
      recipe.cudaGraph,
      (why) =>
        place.events.message?.(
          `the training step could not be captured into a CUDA graph (${why}); it runs eagerly this epoch`,
        ),
      replicas.world ? replicas : undefined,
    );
  }
  return { ...place, trainLoader, testLoader, batches, board, step, cudaStep };
}

/** The recipe's fields as TensorBoard hparams: numbers, strings and booleans as they are, the rest as JSON. */
function recipeHparams(recipe: Recipe): Record<string, number | string | boolean> {
  return Object.fromEntries(
    flatten(recipe).map(([k, v]) => [
      k,
      typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v),
    ]),
  );
}

/**
 * One epoch's training steps (after its pruning events, or from where an interrupted run stopped).
 * Returns the epoch's last learning rate, or null when the run was told to stop (and saved).
 */
async function trainEpoch(run: Run, s: Setting, epoch: number): Promise<number | null> {
  const { recipe, model, optimizer, state } = run;
  const skip = epoch === state.position.epoch ? state.position.batch : 0;
  if (skip === 0) {
    state.progress = emptyProgress();
    const events = beginEpoch(model, optimizer, recipe, epoch);
    for (const results of events) s.events.prune?.(epoch, results);
    if (events.length) state.bestTop1 = -1; // best.safetensors is chosen among the epochs at the final sparsity
    const q = recipe.quantization;
    if (q && epoch === q.startEpoch) {
      state.bestTop1 = -1; // best.safetensors holds the best quantized model from here on
      s.events.message?.(
        `epoch ${epoch}: quantization-aware training begins (BatchNorm folded, ${q.weightBits}-bit weights, ${q.actBits}-bit inputs)`,
      );
    }
  }
  s.replicas.attach(model);
  s.cudaStep?.invalidate(); // the epoch's start may have changed the step: capture it again
  const pruneEpochs = recipe.pruning.events.map((e) => e.epoch);
  const started = performance.now() - state.progress.seconds * 1000;
  const meter = new StepMeter(s.device, s.batches);
  let lr = 0;
  let batch = 0;
  try {
    for await (const b of s.trainLoader.epoch(epoch)) {
      if (batch++ < skip) {
        b.x.dispose();
        b.y.dispose();
        continue;
      }
      lr = learningRate(
        recipe.schedule,
        pruneEpochs,
        { epoch, batch: batch - 1, batchesPerEpoch: s.batches },
        recipe.quantization,
      );
      try {
        s.replicas.syncBuffers(model);
        const cudaStep = s.cudaStep;
        T.tidy(() =>
          meter.record(
            cudaStep
              ? cudaStep.run(model, optimizer, recipe, b.x, b.y, lr)
              : trainStep(model, optimizer, recipe, b.x, b.y, lr, 'cpu', s.replicas),
            { batch, size: b.size, lr },
          ),
        );
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
      // On the CPU the figures are read after every step; a GPU is only made to wait twice a second.
      const last = batch === s.batches;
      if (!s.cudaStep || last || meter.due(500)) takeFigures(run, s, epoch, meter, started);
      // Let the event loop run (signals such as Ctrl-C arrive there) before asking whether to stop.
      await new Promise((resolve) => setImmediate(resolve));
      if (s.replicas.anyStop(s.options.shouldStop?.() ?? false) && !last) {
        takeFigures(run, s, epoch, meter, started);
        state.position = { epoch, batch };
        state.progress = groupProgress(state.progress, s.replicas);
        save(run, s);
        return null;
      }
    }
  } finally {
    meter.dispose();
  }
  return lr;
}

/**
 * The figures of the steps done since the last read: the epoch's sums, TensorBoard and the step
 * event. A non-finite loss stops the run before anything is saved.
 */
function takeFigures(run: Run, s: Setting, epoch: number, meter: StepMeter, started: number): void {
  const { steps, correct } = meter.read();
  const p = run.state.progress;
  for (const { batch, size, lr, loss } of steps) {
    if (!Number.isFinite(loss)) {
      throw new TrainingError(
        `the loss is ${loss} at epoch ${epoch}, batch ${batch}: training stopped. ` +
          (run.state.history.length
            ? `The last good checkpoint is ${s.last} (after epoch ${run.state.history.at(-1)!.epoch}).`
            : 'No epoch had completed.'),
      );
    }
    p.lossSum += loss * size;
    p.count += size;
    s.board?.scalars(s.step(epoch, batch), { [stepTags.loss]: loss, [stepTags.lr]: lr });
  }
  p.correct += correct;
  p.seconds = (performance.now() - started) / 1000;
  const latest = steps.at(-1);
  if (latest) {
    s.events.step?.({
      epoch,
      batch: latest.batch,
      batches: s.batches,
      loss: latest.loss,
      lr: latest.lr,
      imagesPerSecond: p.count / p.seconds,
      model: run.model,
    });
  }
}

/** The end of an epoch: evaluation, metrics, checkpoints (the best one too) and the metrics file. */
async function endEpoch(run: Run, s: Setting, epoch: number, lr: number): Promise<void> {
  const { model, state } = run;
  s.replicas.syncBuffers(model); // every shard evaluated with rank 0's running statistics, which it saves
  const test = groupResult(
    await evaluate(model, s.testLoader.epoch(epoch), {
      device: s.device,
      autocast: run.recipe.precision === 'bfloat16',
    }),
    s.replicas,
  );
  run.final = test;
  const p = groupProgress(state.progress, s.replicas);
  const zeros = sparsity(model);
  const metrics: EpochMetrics = {
    epoch,
    lr,
    trainLoss: p.lossSum / p.count,
    trainTop1: p.correct / p.count,
    testLoss: test.loss,
    testTop1: test.top1,
    testTop5: test.top5,
    sparsity: zeros.zeros / zeros.total,
    seconds: p.seconds,
    imagesPerSecond: p.count / p.seconds,
  };
  state.history.push(metrics);
  s.board?.scalars(s.step(epoch, s.batches), {
    ...Object.fromEntries(Object.entries(metricTags).map(([k, tag]) => [tag, metrics[k as keyof EpochMetrics]])),
    ...Object.fromEntries(layerSparsity(model).map((l) => [layerSparsityTag(l.name), l.zeros / l.total])),
  });
  state.position = { epoch: epoch + 1, batch: 0 };
  const best = test.top1 > state.bestTop1;
  if (best) state.bestTop1 = test.top1;
  save(run, s);
  if (s.replicas.main) {
    if (best) saveTrainState(bestCheckpoint(s.options.outDir), model, run.optimizer.state(), state, s.device);
    writeFileAtomic(
      metricsFile(s.options.outDir),
      new TextEncoder().encode(`${state.history.map(metricsLine).join('\n')}\n`),
    );
  }
  s.events.epoch?.(metrics);
}

/** The training checkpoint (rank 0). Events reach their file first: a crash between the two is purged by the resumed run's start. */
function save(run: Run, s: Setting): void {
  if (!s.replicas.main) return;
  s.board?.flush();
  // The run's identity is written with its first checkpoint (a run that fails before leaves nothing).
  if (readRunId(s.options.outDir) !== run.state.runId) writeRunId(s.options.outDir, run.state.runId!);
  run.state.lastStep = s.step(run.state.position.epoch, run.state.position.batch);
  saveTrainState(s.last, run.model, run.optimizer.state(), run.state, s.device);
}

function stopped(run: Run, s: Setting, what: string): TrainResult {
  s.events.message?.(`${what}: saved ${s.last}; continue with --resume ${s.options.outDir}`);
  return { ...result(run, s, false), quantized: null };
}

function result(run: Run, s: Setting, completed: boolean): Omit<TrainResult, 'quantized'> {
  return { model: run.model, history: run.state.history, final: run.final, completed, checkpoint: s.last };
}

/** A completed quantization-aware run's integer checkpoint (rank 0); null for a float run. */
function writeQuantized(run: Run, s: Setting): string | null {
  const { recipe, model } = run;
  if (!planOf(model) || !s.replicas.main) return null;
  try {
    saveQuantizedCheckpoint(
      quantizedCheckpoint(s.options.outDir),
      model,
      recipe.model.name,
      modelConfig(recipe.model.name, recipe.model.config),
      recipe.data.dataset,
      run.state.data,
    );
    return quantizedCheckpoint(s.options.outDir);
  } catch (e) {
    // The run itself is complete and saved; only the integer form cannot be written (e.g. wide bits overflow int32 biases).
    s.events.message?.(`no integer checkpoint: ${(e as Error).message}`);
    return null;
  }
}

/** The epoch's sums over the whole group, as a checkpoint records them. */
function groupProgress(p: EpochProgress, replicas: Replicas): EpochProgress {
  const [lossSum, correct, count] = replicas.sum([p.lossSum, p.correct, p.count]) as [number, number, number];
  return { lossSum, correct, count, seconds: p.seconds };
}

/** The weights and masks a recipe starts from: a float checkpoint of the recipe's own model. */
function loadInitialWeights(model: Module, recipe: Recipe): void {
  const path = recipe.initialWeights!;
  const init = loadAnyCheckpoint(path, recipe.model.name);
  try {
    const config = modelConfig(recipe.model.name, recipe.model.config);
    if (init.name !== recipe.model.name || JSON.stringify(init.config) !== JSON.stringify(config)) {
      throw new TrainingError(
        `${path} holds ${init.name} ${JSON.stringify(init.config)}, the recipe trains ${recipe.model.name} ${JSON.stringify(config)}`,
      );
    }
    if (planOf(init.model)) throw new TrainingError(`${path} is quantized already: start from a float checkpoint`);
    model.loadStateDict(init.model.stateDict(), { what: path });
  } finally {
    init.model.dispose();
  }
}

function loadSaved(path: string, recipe: Recipe, outDir: string): LoadedTrainState {
  if (!existsSync(path)) throw new TrainingError(`nothing to resume in ${outDir}: no ${path}`);
  const saved = loadTrainState(path);
  try {
    checkIdentity(saved, path, outDir);
  } catch (e) {
    disposeLoadedState(saved);
    throw e;
  }
  if (JSON.stringify(saved.recipe) !== JSON.stringify(recipe)) {
    disposeLoadedState(saved);
    throw new TrainingError(
      `${path} was written by a different recipe; resume with the recipe saved in it (micronet train --resume ${outDir})`,
    );
  }
  return saved;
}

/**
 * Refuses a last checkpoint that belongs to another run than the directory's (one copied in from
 * elsewhere): resuming it would overwrite this run's metrics and best checkpoint.
 */
function checkIdentity(saved: TrainState, path: string, outDir: string): void {
  const best = bestCheckpoint(outDir);
  let owner: [string, string | undefined] | null = null;
  const dirId = readRunId(outDir);
  if (dirId) owner = [`${outDir}'s run.json`, dirId];
  else if (existsSync(best)) {
    try {
      owner = [best, readTrainState(best).runId];
    } catch {
      // A damaged best checkpoint does not decide whose the run is; resuming rewrites it.
    }
  }
  if (!owner || owner[1] === saved.runId) return;
  const r = saved.recipe;
  throw new TrainingError(
    `${path} belongs to another run (${saved.runId ? `run ${saved.runId}` : 'a run without an id'}: recipe ${r.name}, seed ${r.seed}, ` +
      `lr ${r.schedule.lr}, ${counted(r.epochs, 'epoch')}) than the one ${owner[0]} names (${owner[1] ?? 'a run without an id'}); ` +
      `resuming would overwrite that run's metrics and best checkpoint. Resume it from its own directory, or start ` +
      `a new run from its weights with --set initialWeights=${path}`,
  );
}

/** An evaluation of every rank's shard, summed over the group. */
function groupResult(r: EvalResult, replicas: Replicas): EvalResult {
  const [count, correct1, correct5, lossSum] = replicas.sum([r.count, r.correct1, r.correct5, r.loss * r.count]) as [
    number,
    number,
    number,
    number,
  ];
  return { count, correct1, correct5, top1: correct1 / count, top5: correct5 / count, loss: lossSum / count };
}

function emptyProgress(): EpochProgress {
  return { lossSum: 0, correct: 0, count: 0, seconds: 0 };
}
