// Training checkpoints: the model (masks and BatchNorm statistics included), the optimizer's
// momentum, the dropout generator's state, the position in the run, the metrics so far and the
// recipe, in one safetensors file written atomically. Model checkpoints readers accept it too.
import * as T from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.js';
import { trainCheckpointFormat, trainStatePrefix } from '../checkpoint/model-file.js';
import type { Recipe } from '../recipes/index.js';

const momentumPrefix = `${trainStatePrefix}momentum/`;
const rngKey = `${trainStatePrefix}rng/default`;

export interface Position {
  /** The epoch the next step belongs to (from 1); epochs + 1 when the run is complete. */
  epoch: number;
  /** Batches of that epoch already done (non-zero only after an interruption). */
  batch: number;
}

export interface EpochMetrics {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainTop1: number;
  testLoss: number;
  testTop1: number;
  testTop5: number;
  sparsity: number;
  seconds: number;
  imagesPerSecond: number;
}

/** Sums of the epoch in progress, so that a resumed epoch reports what an uninterrupted one would. */
export interface EpochProgress { lossSum: number; correct: number; count: number; seconds: number }

export interface TrainState {
  recipe: Recipe;
  /** Where the data was read from: --resume reads it there again unless told otherwise. */
  dataDir: string;
  position: Position;
  history: EpochMetrics[];
  progress: EpochProgress;
  bestTop1: number;
}

export function saveTrainState(path: string, model: Module, momentum: Map<string, T.Tensor>, state: TrainState): void {
  const tensors = new Map(model.stateDict());
  for (const [name, buf] of momentum) tensors.set(momentumPrefix + name, buf);
  const rng = T.Generator.default().getState();
  tensors.set(rngKey, rng);
  try {
    writeSafetensors(path, tensors, {
      format: trainCheckpointFormat,
      model: state.recipe.model.name,
      config: JSON.stringify(state.recipe.model.config),
      state: JSON.stringify(state),
    });
  } finally {
    rng.dispose();
  }
}

export interface LoadedTrainState extends TrainState {
  model: Map<string, T.Tensor>;
  momentum: Map<string, T.Tensor>;
  rng: T.Tensor;
}

function parseState(metadata: Record<string, string>, path: string): TrainState {
  if (metadata.format !== trainCheckpointFormat) {
    throw new Error(`${path} is not a micronet training checkpoint (format ${JSON.stringify(metadata.format)})`);
  }
  try {
    return JSON.parse(metadata.state ?? '') as TrainState;
  } catch {
    throw new Error(`${path}: training state metadata is not JSON`);
  }
}

/** The recipe, position and metrics of a training checkpoint, without loading its tensors. */
export function readTrainState(path: string): TrainState {
  return parseState(readSafetensorsMetadata(path), path);
}

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
  const momentum = new Map<string, T.Tensor>();
  let rng: T.Tensor | undefined;
  for (const [k, t] of file.tensors) {
    if (k === rngKey) rng = t;
    else if (k.startsWith(momentumPrefix)) momentum.set(k.slice(momentumPrefix.length), t);
    else model.set(k, t);
  }
  if (!rng) throw new Error(`${path}: no generator state`);
  return { ...state, model, momentum, rng };
}

export function disposeLoadedState(saved: LoadedTrainState): void {
  for (const t of [...saved.model.values(), ...saved.momentum.values(), saved.rng]) t.dispose();
}
