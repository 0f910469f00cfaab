// Training checkpoints: the model (masks and BatchNorm statistics included), the optimizer's
// state (under `#optimizer/<slot>/<parameter>`), the dropout generator's state, the position in the run, the metrics so far and the
// recipe, in one safetensors file written atomically. Model checkpoints readers accept it too.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import type { DataSource } from '../data/synthetic.js';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.js';
import { isDataSource, modelMetadata, trainCheckpointFormat, trainStatePrefix } from './metadata.js';
import { isEpochMetrics, type EpochMetrics } from './metrics.js';
import { isRunId, lastCheckpoint } from './run-dir.js';
import { shown } from '../text.js';
import { MOMENTUM } from '../optim/sgd.js';
import { stateName } from '../optim/optimizer.js';
import { upgradeRecipe, validateRecipe, type Recipe } from '../recipes/index.js';

const optimizerPrefix = `${trainStatePrefix}optimizer/`;
/** Where micronet 0.1.0 kept SGD's momentum; read as the state of today's SGD. */
const legacyMomentumPrefix = `${trainStatePrefix}momentum/`;
/** Generator states by device: `#rng/default` is the CPU's (the name older checkpoints use), `#rng/cuda:N` a GPU's. */
const rngPrefix = `${trainStatePrefix}rng/`;
const rngKey = (device: T.Device) => rngPrefix + (device === 'cpu' ? 'default' : device);

/** Where a run stands. */
export interface Position {
  /** The epoch the next step belongs to (from 1); epochs + 1 when the run is complete. */
  epoch: number;
  /** Batches of that epoch already done (non-zero only after an interruption). */
  batch: number;
}

/** Sums of the epoch in progress, so that a resumed epoch reports what an uninterrupted one would. */
export interface EpochProgress {
  lossSum: number;
  correct: number;
  count: number;
  seconds: number;
}

/** What a training checkpoint records besides tensors: the recipe, the position, the metrics so far. */
export interface TrainState {
  /** The run this checkpoint belongs to (run-dir.ts's run.json); absent in runs of earlier releases. */
  runId?: string;
  recipe: Recipe;
  /** Where the data was read from: --resume reads it there again unless told otherwise. */
  dataDir: string;
  /** What that data is (real or generated, and where); absent in runs of earlier releases and for data given in memory. */
  data?: DataSource;
  /** The device the run last trained on; absent in runs of earlier releases. */
  device?: string;
  /** TensorBoard's step before this run's first: a run that starts from another's checkpoint continues its steps. */
  stepOffset?: number;
  /** TensorBoard's step of the saved position (offset included), which a run continuing this one starts after. */
  lastStep?: number;
  position: Position;
  history: EpochMetrics[];
  progress: EpochProgress;
  /**
   * Test top-1 of the best checkpoint so far; -1 before the first, and again at every pruning event
   * and when quantization-aware training starts: best is chosen at the run's final stage.
   */
  bestTop1: number;
}

/** The devices whose default generators a run on `device` draws from. */
const generatorDevices = (device: T.Device): T.Device[] =>
  device === 'cpu' ? ['cpu'] : ['cpu', device === 'cuda' ? 'cuda:0' : device];

/** Writes a training checkpoint (atomically): the model, the optimizer's state (Optimizer.state()), the default generators' states and the state as metadata. */
export function saveTrainState(
  path: string,
  model: Module,
  optimizerState: ReadonlyMap<string, T.Tensor>,
  state: TrainState,
  device: T.Device = 'cpu',
): void {
  const tensors = new Map(model.stateDict());
  for (const [name, t] of optimizerState) tensors.set(optimizerPrefix + name, t);
  const rngs = generatorDevices(device).map((d) => [rngKey(d), T.Generator.default(d).getState()] as const);
  for (const [key, rng] of rngs) tensors.set(key, rng);
  try {
    writeSafetensors(path, tensors, {
      ...modelMetadata(
        trainCheckpointFormat,
        model,
        state.recipe.model.name,
        state.recipe.model.config,
        state.recipe.data.dataset,
        state.data,
      ),
      state: JSON.stringify(state),
    });
  } finally {
    for (const [, rng] of rngs) rng.dispose();
  }
}

/** Puts back the generator states saved by a run on `device` (a GPU's only when resuming on it). */
export function restoreGenerators(saved: Map<string, T.Tensor>, device: T.Device): void {
  for (const d of generatorDevices(device)) {
    const state = saved.get(rngKey(d));
    if (state) T.Generator.default(d).setState(state);
  }
}

/** A training checkpoint read whole: its state and its tensors, which the caller disposes (disposeLoadedState). */
export interface LoadedTrainState extends TrainState {
  /** The model's state dict. */
  model: Map<string, T.Tensor>;
  /** The optimizer's state by `<slot>/<parameter>` (Optimizer.loadState takes it). */
  optimizer: Map<string, T.Tensor>;
  /** Generator states under their checkpoint keys (see restoreGenerators). */
  generators: Map<string, T.Tensor>;
}

function parseState(metadata: Record<string, string>, path: string): TrainState {
  if (metadata.format !== trainCheckpointFormat) {
    throw new Error(`${path} is not a micronet training checkpoint (format ${JSON.stringify(metadata.format)})`);
  }
  let state: unknown;
  try {
    state = JSON.parse(metadata.state ?? '');
  } catch {
    throw new Error(`${path}: training state metadata is not JSON`);
  }
  return validateTrainState(state, path);
}

/**
 * A saved state is checked as fully as a recipe given on the command line: a damaged or edited
 * checkpoint is refused, naming what is wrong, instead of training with it.
 */
function validateTrainState(value: unknown, path: string): TrainState {
  const bad = (problem: string) => new Error(`${path}: damaged training state: ${problem}`);
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const s = value as Partial<TrainState>;
  try {
    s.recipe = validateRecipe(upgradeRecipe(s.recipe) as Recipe);
  } catch (e) {
    throw bad(`its recipe is invalid: ${(e as Error).message}`);
  }
  const epochs = s.recipe!.epochs;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (s.runId !== undefined && !isRunId(s.runId)) throw bad(`runId ${shown(s.runId)} is not a run id`);
  if (typeof s.dataDir !== 'string') throw bad('dataDir is not a string');
  if (s.data !== undefined && !isDataSource(s.data)) throw bad(`data ${shown(s.data)} is not a data source`);
  if (s.device !== undefined && typeof s.device !== 'string') throw bad(`device ${shown(s.device)} is not a string`);
  for (const k of ['stepOffset', 'lastStep'] as const)
    if (s[k] !== undefined && !count(s[k])) throw bad(`${k} ${shown(s[k])} is not a step`);
  const p = s.position;
  if (!p || !Number.isInteger(p.epoch) || p.epoch < 1 || p.epoch > epochs + 1)
    throw bad(`position.epoch ${JSON.stringify(p?.epoch)} is outside 1..${epochs + 1}`);
  if (!count(p.batch) || (p.epoch === epochs + 1 && p.batch !== 0))
    throw bad(`position.batch ${JSON.stringify(p.batch)} is not a batch of epoch ${p.epoch}`);
  if (!Array.isArray(s.history) || s.history.length !== p.epoch - 1)
    throw bad(
      `the history holds ${Array.isArray(s.history) ? s.history.length : 'no'} epochs, the position says ${p.epoch - 1}`,
    );
  s.history.forEach((m, i) => {
    if (!isEpochMetrics(m) || m.epoch !== i + 1) {
      throw bad(`history entry ${i + 1} is not the metrics of epoch ${i + 1}`);
    }
  });
  const q = s.progress;
  if (
    !q ||
    !count(q.count) ||
    !count(q.correct) ||
    q.correct > q.count ||
    !finite(q.lossSum) ||
    !finite(q.seconds) ||
    q.seconds < 0
  )
    throw bad('progress is malformed');
  if (!finite(s.bestTop1) || s.bestTop1! < -1 || s.bestTop1! > 1)
    throw bad(`bestTop1 ${JSON.stringify(s.bestTop1)} is not an accuracy`);
  return s as TrainState;
}

/** The recipe, position and metrics of a training checkpoint, without loading its tensors. */
export function readTrainState(path: string): TrainState {
  return parseState(readSafetensorsMetadata(path), path);
}

/** Reads a training checkpoint, its state validated; throws for another format or a damaged state. */
export function loadTrainState(path: string): LoadedTrainState {
  const file = readSafetensors(path);
  let state: TrainState;
  try {
    state = parseState(file.metadata, path);
  } catch (e) {
    for (const t of file.tensors.values()) t.dispose();
    throw e;
  }
  const model = new Map<string, T.Tensor>();
  const optimizer = new Map<string, T.Tensor>();
  const generators = new Map<string, T.Tensor>();
  for (const [k, t] of file.tensors) {
    if (k.startsWith(rngPrefix)) generators.set(k, t);
    else if (k.startsWith(optimizerPrefix)) optimizer.set(k.slice(optimizerPrefix.length), t);
    else if (k.startsWith(legacyMomentumPrefix))
      optimizer.set(stateName(MOMENTUM, k.slice(legacyMomentumPrefix.length)), t);
    else model.set(k, t);
  }
  const saved = { ...state, model, optimizer, generators };
  if (!generators.has(rngKey('cpu'))) {
    disposeLoadedState(saved);
    throw new Error(`${path}: no generator state`);
  }
  return saved;
}

/** Frees every tensor of a loaded training checkpoint. */
export function disposeLoadedState(saved: LoadedTrainState): void {
  for (const t of [...saved.model.values(), ...saved.optimizer.values(), ...saved.generators.values()]) t.dispose();
}

/**
 * The run a recipe's initialWeights come from: the state of the last checkpoint in the same
 * directory (the parent's end, whichever of its checkpoints was taken); null when the weights are
 * no run's or that checkpoint cannot be read (the child then stands alone).
 */
export function parentRun(initialWeights: string | null): { dir: string; state: TrainState } | null {
  if (!initialWeights) return null;
  const dir = dirname(initialWeights);
  const last = lastCheckpoint(dir);
  if (!existsSync(last)) return null;
  try {
    return { dir, state: readTrainState(last) };
  } catch {
    return null;
  }
}
