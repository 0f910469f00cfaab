// The training loop of a recipe: epochs of SGD steps with the recipe's schedule, loss, pruning
// events and gradient masking, an evaluation and an atomic checkpoint after every epoch, exact
// resumption (also mid-epoch, after an interruption), and a clean stop on a non-finite loss.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { Loader, loadDataset, type Split } from '../data/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildModel, modelConfig } from '../models/registry.js';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { planFor, planOf, prepareQuantized, setObserving } from '../quant/prepare.js';
import { saveQuantizedCheckpoint } from '../quant/quantized-file.js';
import { sparsity, type PruneResult } from '../prune/prune.js';
import type { Recipe } from '../recipes/index.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { learningRate } from './schedule.js';
import { SGD } from './sgd.js';
import { beginEpoch, observingAt, quantizedAt, trainStep, TrainingError } from './step.js';
import { RunDirectory } from './run-dir.js';
import { Replicas, type World } from './data-parallel.js';
import { EventFileWriter } from '../report/tensorboard.js';
import { disposeLoadedState, loadTrainState, metricTags, restoreGenerators, saveTrainState, stepTags, type EpochMetrics, type EpochProgress, type LoadedTrainState, type TrainState } from './state.js';

/** Callbacks of a run, all optional. */
export interface TrainEvents {
  /** After every step (progress display, custom monitoring). */
  step?(info: { epoch: number; batch: number; batches: number; loss: number; lr: number; imagesPerSecond: number; model: Module }): void;
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
  constructor(message: string, readonly history: EpochMetrics[]) { super(message); }
}

/** The checkpoint written after every epoch, and what --resume continues from. */
export const lastCheckpoint = (outDir: string) => join(outDir, 'last.safetensors');
/** The checkpoint of the epoch with the best test top-1 (among quantized ones once quantization-aware training starts). */
export const bestCheckpoint = (outDir: string) => join(outDir, 'best.safetensors');
/** The integer checkpoint a completed quantization-aware run writes. */
export const quantizedCheckpoint = (outDir: string) => join(outDir, 'quantized.safetensors');

/** Runs (or with options.resume, continues) a recipe in options.outDir, holding the directory's lock meanwhile. */
export async function train(recipe: Recipe, options: TrainOptions): Promise<TrainResult> {
  const device = options.device ?? 'cpu';
  const events = options.events ?? {};
  const last = lastCheckpoint(options.outDir);
  const replicas = new Replicas(options.world ?? null);
  // One process writes the directory: rank 0 holds its lock.
  const run = replicas.main ? RunDirectory.open(options.outDir) : null;
  try {
    return await trainIn(recipe, options, device, events, last, replicas);
  } finally {
    run?.release();
  }
}

async function trainIn(recipe: Recipe, options: TrainOptions, device: T.Device, events: TrainEvents, last: string, replicas: Replicas): Promise<TrainResult> {
  if (!options.resume && existsSync(last)) throw new TrainingError(`${options.outDir} already holds a run: continue it with --resume ${options.outDir}, or choose another directory`);
  let state: TrainState = { recipe, dataDir: options.dataDir, position: { epoch: 1, batch: 0 }, history: [], progress: emptyProgress(), bestTop1: -1 };
  const saved = options.resume ? loadSaved(last, recipe, options.outDir) : null;
  if (saved && saved.position.epoch > recipe.epochs) {
    disposeLoadedState(saved);
    throw new RunFinishedError(`the run in ${options.outDir} is finished: all ${recipe.epochs} epochs are done; its model is ${last}`, saved.history);
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
  if (device !== 'cpu' || recipe.channelsLast) model.to({ device, ...(recipe.channelsLast ? { memoryFormat: 'channels_last' } : {}) });
  const optimizer = new SGD(model.namedParameters(), recipe.optimizer);
  if (saved) {
    optimizer.loadMomentum(saved.momentum);
    restoreGenerators(saved.generators, device);
    disposeLoadedState(saved);
    // The saved sums of an interrupted epoch are the whole group's: rank 0 carries them on.
    const progress = replicas.main ? saved.progress : emptyProgress();
    state = { recipe, dataDir: options.dataDir, position: saved.position, history: saved.history, progress, bestTop1: saved.bestTop1 };
    events.message?.(`resuming ${recipe.name} at epoch ${state.position.epoch}${state.position.batch ? `, batch ${state.position.batch}` : ''}`);
  } else {
    events.message?.(`training ${recipe.name} (${recipe.description}) on ${options.dataDir}, writing ${options.outDir}`);
  }

  replicas.syncState(model, optimizer);
  if (recipe.data.batchSize % replicas.size) {
    throw new TrainingError(`the batch of ${recipe.data.batchSize} cannot be split over ${replicas.size} processes: choose a process count that divides it`);
  }
  const batchSize = recipe.data.batchSize / replicas.size;
  const data = options.data ?? loadDataset(options.dataDir, { dataset: recipe.data.dataset });
  const layout = recipe.channelsLast ? 'channels_last' : 'nchw';
  const trainLoader = new Loader({ data: data.train, pipeline: recipe.data.trainPipeline, batchSize, seed: recipe.seed, workers: recipe.data.workers, layout, shuffle: true, shard: replicas.shard(true) });
  const testLoader = new Loader({ data: data.test, pipeline: recipe.data.testPipeline, batchSize, workers: recipe.data.workers, layout, shuffle: false, shard: replicas.shard(false) });
  const pruneEpochs = recipe.pruning.events.map((e) => e.epoch);
  const autocast = recipe.precision === 'bfloat16';
  const deviceType = device.startsWith('cuda') ? 'cuda' : 'cpu';
  // TensorBoard's step axis counts training steps; epoch figures sit at their epoch's last step.
  const batches = trainLoader.length;
  const globalStep = (epoch: number, batch: number) => (epoch - 1) * batches + batch;
  const board = replicas.main ? new EventFileWriter(options.outDir) : null;
  if (saved) board?.start(globalStep(state.position.epoch, state.position.batch) + 1);
  // Events reach the file before the checkpoint: a crash between the two is purged by the resumed run's start.
  const save = () => {
    if (!replicas.main) return;
    board?.flush();
    saveTrainState(last, model, optimizer.momentumBuffers(), state, device);
  };
  /** The epoch's sums over the whole group, as a checkpoint records them. */
  const groupProgress = (p: EpochProgress): EpochProgress => {
    const [lossSum, correct, count] = replicas.sum([p.lossSum, p.correct, p.count]) as [number, number, number];
    return { lossSum, correct, count, seconds: p.seconds };
  };

  let final: EvalResult | null = null;
  try {
    if (state.position.batch >= batches) {
      throw new TrainingError(`${last}: the saved position is batch ${state.position.batch} of epoch ${state.position.epoch}, `
        + `but an epoch of this data has ${batches} batches (other data than the run's?)`);
    }
    for (let epoch = state.position.epoch; epoch <= recipe.epochs; epoch++) {
      const skip = epoch === state.position.epoch ? state.position.batch : 0;
      if (skip === 0) {
        state.progress = emptyProgress();
        for (const results of beginEpoch(model, optimizer, recipe, epoch)) events.prune?.(epoch, results);
        if (q && epoch === q.startEpoch) {
          state.bestTop1 = -1;  // best.safetensors holds the best quantized model from here on
          const { weightBits, actBits } = q;
          events.message?.(`epoch ${epoch}: quantization-aware training begins (BatchNorm folded, ${weightBits}-bit weights, ${actBits}-bit inputs)`);
        }
      }
      replicas.attach(model);
      const started = performance.now() - state.progress.seconds * 1000;
      let lr = 0;
      let batch = 0;
      for await (const b of trainLoader.epoch(epoch)) {
        if (batch++ < skip) { b.x.dispose(); b.y.dispose(); continue; }
        lr = learningRate(recipe.schedule, pruneEpochs, { epoch, batch: batch - 1, batchesPerEpoch: batches }, q);
        let step: { loss: number; correct: number };
        try {
          replicas.syncBuffers(model);
          step = T.tidy(() => trainStep(model, optimizer, recipe, device === 'cpu' ? b.x : b.x.to(device), device === 'cpu' ? b.y : b.y.to(device), lr, deviceType, replicas));
        } catch (e) {
          if (!(e instanceof TrainingError)) throw e;
          throw new TrainingError(`${e.message} at epoch ${epoch}, batch ${batch}: training stopped. `
            + (state.history.length ? `The last good checkpoint is ${last} (after epoch ${state.history.at(-1)!.epoch}).` : 'No epoch had completed.'));
        }
        const { loss, correct } = step;
        b.x.dispose();
        b.y.dispose();
        const p = state.progress;
        p.lossSum += loss * b.size;
        p.correct += correct;
        p.count += b.size;
        p.seconds = (performance.now() - started) / 1000;
        board?.scalars(globalStep(epoch, batch), { [stepTags.loss]: loss, [stepTags.lr]: lr });
        events.step?.({ epoch, batch, batches, loss, lr, imagesPerSecond: p.count / p.seconds, model });
        // Let the event loop run (signals such as Ctrl-C arrive there) before asking whether to stop.
        await new Promise((resolve) => setImmediate(resolve));
        if (replicas.anyStop(options.shouldStop?.() ?? false) && batch < batches) {
          state.position = { epoch, batch };
          state.progress = groupProgress(state.progress);
          save();
          events.message?.(`stopped at epoch ${epoch}, batch ${batch}: saved ${last}; continue with --resume ${options.outDir}`);
          return { model, history: state.history, final, completed: false, checkpoint: last, quantized: null };
        }
      }
      replicas.syncBuffers(model);  // every shard evaluated with rank 0's running statistics, which it saves
      const test = groupResult(await evaluate(model, testLoader.epoch(epoch), { device, autocast }), replicas);
      final = test;
      const p = groupProgress(state.progress);
      const s = sparsity(model);
      const metrics: EpochMetrics = {
        epoch, lr, trainLoss: p.lossSum / p.count, trainTop1: p.correct / p.count, testLoss: test.loss, testTop1: test.top1,
        testTop5: test.top5, sparsity: s.zeros / s.total, seconds: p.seconds, imagesPerSecond: p.count / p.seconds,
      };
      state.history.push(metrics);
      board?.scalars(globalStep(epoch, batches), Object.fromEntries(Object.entries(metricTags).map(([k, tag]) => [tag, metrics[k as keyof EpochMetrics]])));
      state.position = { epoch: epoch + 1, batch: 0 };
      const best = test.top1 > state.bestTop1;
      if (best) state.bestTop1 = test.top1;
      save();
      if (replicas.main) {
        if (best) saveTrainState(bestCheckpoint(options.outDir), model, optimizer.momentumBuffers(), state, device);
        writeFileAtomic(join(options.outDir, 'metrics.jsonl'), new TextEncoder().encode(state.history.map((m) => JSON.stringify(m)).join('\n') + '\n'));
      }
      events.epoch?.(metrics);
      if (replicas.anyStop(options.shouldStop?.() ?? false) && epoch < recipe.epochs) {
        events.message?.(`stopped after epoch ${epoch}: saved ${last}; continue with --resume ${options.outDir}`);
        return { model, history: state.history, final, completed: false, checkpoint: last, quantized: null };
      }
    }
  } finally {
    await trainLoader.close();
    await testLoader.close();
  }
  let quantized: string | null = null;
  if (planOf(model) && replicas.main) {
    try {
      saveQuantizedCheckpoint(quantizedCheckpoint(options.outDir), model, recipe.model.name, modelConfig(recipe.model.name, recipe.model.config), recipe.data.dataset);
      quantized = quantizedCheckpoint(options.outDir);
    } catch (e) {
      // The run itself is complete and saved; only the integer form cannot be written (e.g. wide bits overflow int32 biases).
      events.message?.(`no integer checkpoint: ${(e as Error).message}`);
    }
  }
  return { model, history: state.history, final, completed: true, checkpoint: last, quantized };
}

/** The weights and masks a recipe starts from: a float checkpoint of the recipe's own model. */
function loadInitialWeights(model: Module, recipe: Recipe): void {
  const path = recipe.initialWeights!;
  const init = loadAnyCheckpoint(path, recipe.model.name);
  try {
    const config = modelConfig(recipe.model.name, recipe.model.config);
    if (init.name !== recipe.model.name || JSON.stringify(init.config) !== JSON.stringify(config)) {
      throw new TrainingError(`${path} holds ${init.name} ${JSON.stringify(init.config)}, the recipe trains ${recipe.model.name} ${JSON.stringify(config)}`);
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
  if (JSON.stringify(saved.recipe) !== JSON.stringify(recipe)) {
    disposeLoadedState(saved);
    throw new TrainingError(`${path} was written by a different recipe; resume with the recipe saved in it (micronet train --resume ${outDir})`);
  }
  return saved;
}

/** An evaluation of every rank's shard, summed over the group. */
function groupResult(r: EvalResult, replicas: Replicas): EvalResult {
  const [count, correct1, correct5, lossSum] = replicas.sum([r.count, r.correct1, r.correct5, r.loss * r.count]) as [number, number, number, number];
  return { count, correct1, correct5, top1: correct1 / count, top5: correct5 / count, loss: lossSum / count };
}

function emptyProgress(): EpochProgress {
  return { lossSum: 0, correct: 0, count: 0, seconds: 0 };
}
