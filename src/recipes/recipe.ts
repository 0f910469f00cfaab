// Recipes: everything a training run does, as typed data that is validated, can be overridden
// field by field (`--set path=value`), and is saved into every checkpoint.
import {
  datasetNames,
  datasets,
  maxWorkers,
  pipelineNames,
  type DatasetName,
  type PipelineName,
} from '../data/index.js';
import { modelConfig } from '../models/registry.js';
import { checkQuantizationConfig } from '../quant/prepare.js';
import { checkOptimizerConfig, optimizerDefaults, type OptimizerConfig } from '../optim/index.js';
import type { LossConfig, PruneEvent, PruningConfig, QuantizationPhase, ScheduleConfig } from './slices.js';

/** Everything a training run does: model, data, epochs, optimizer, schedule, loss, pruning, precision, quantization. */
export interface Recipe {
  /** The recipe's name (a built-in one's is what `findRecipe` takes). */
  name: string;
  description: string;
  model: { name: string; config: Record<string, unknown> };
  /** Start from this checkpoint's weights and masks instead of a fresh initialisation (null: fresh). */
  initialWeights: string | null;
  data: {
    dataset: DatasetName;
    trainPipeline: PipelineName;
    testPipeline: PipelineName;
    batchSize: number;
    workers: number;
  };
  epochs: number;
  /** The optimizer by registry name (src/optim) and its hyperparameters. */
  optimizer: OptimizerConfig;
  /** After each pruning event: a fresh optimizer (empty momentum). */
  restartOptimizerOnPrune: boolean;
  schedule: ScheduleConfig;
  loss: LossConfig;
  pruning: PruningConfig;
  /** Seeds initialisation, shuffling, augmentation and dropout. */
  seed: number;
  /** The forward passes' precision: bfloat16 runs them under autocast. */
  precision: 'float32' | 'bfloat16';
  /** Whether batches and weights use the NHWC memory format. */
  channelsLast: boolean;
  /** On CUDA, each training step is captured once into a CUDA graph and replayed (false: every step runs eagerly). */
  cudaGraph: boolean;
  quantization: QuantizationPhase | null;
}

/** A recipe that is invalid, unknown, or cannot take an override. */
export class RecipeError extends Error {}

/** The most epochs a recipe may run (the seed runs 200): a bound on everything sized by the run. */
export const maxEpochs = 100_000;
/** The largest batch: beyond it a batch of CIFAR images alone outgrows memory. */
export const maxBatchSize = 65_536;

// Every field of a recipe and of each slice, tied to the types: a field the types lack (a typo, a
// key like `__proto__`) is refused by validateRecipe instead of ignored.
type Fields<T> = Record<keyof T, true>;
const recipeFields: Fields<Recipe> = {
  name: true,
  description: true,
  model: true,
  initialWeights: true,
  data: true,
  epochs: true,
  optimizer: true,
  restartOptimizerOnPrune: true,
  schedule: true,
  loss: true,
  pruning: true,
  seed: true,
  precision: true,
  channelsLast: true,
  cudaGraph: true,
  quantization: true,
};
const sliceFields: Record<string, Record<string, true>> = {
  model: { name: true, config: true } satisfies Fields<Recipe['model']>,
  data: { dataset: true, trainPipeline: true, testPipeline: true, batchSize: true, workers: true } satisfies Fields<
    Recipe['data']
  >,
  schedule: {
    lr: true,
    warmupEpochs: true,
    milestones: true,
    gamma: true,
    gammaAfterPrune: true,
  } satisfies Fields<ScheduleConfig>,
  loss: { smoothing: true, form: true } satisfies Fields<LossConfig>,
  pruning: { q: true, events: true, gradientMasking: true } satisfies Fields<PruningConfig>,
  quantization: {
    weightBits: true,
    actBits: true,
    first: true,
    last: true,
    averagingConstant: true,
    startEpoch: true,
    lr: true,
    milestones: true,
    gamma: true,
    freezeEpoch: true,
  } satisfies Fields<QuantizationPhase>,
};

/** Fields the recipe's types do not have, at the top and in each slice (the optimizer checks its own). */
function unknownFieldProblems(r: Recipe): string[] {
  const unknown = (value: unknown, known: Record<string, true>, prefix: string) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.keys(value)
          .filter((k) => !Object.hasOwn(known, k))
          .map((k) => `unknown recipe field '${prefix}${k}'`)
      : [];
  return [
    ...unknown(r, recipeFields, ''),
    ...Object.entries(sliceFields).flatMap(([slice, known]) =>
      unknown((r as unknown as Record<string, unknown>)[slice], known, `${slice}.`),
    ),
  ];
}

/** Checks every field's type and range; returns the recipe for chaining. */
const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const nonNegative = (v: unknown) => typeof v === 'number' && v >= 0 && Number.isFinite(v);

/** A list of problems and a check that adds one when a condition fails. */
function collector() {
  const problems: string[] = [];
  return { problems, check: (ok: boolean, what: string) => void (ok || problems.push(what)) };
}

/** The name, the model and the data: the model must have as many classes as the data set. */
function modelAndDataProblems(r: Recipe): string[] {
  const { problems, check } = collector();
  check(typeof r.name === 'string' && r.name.length > 0, 'name must be a non-empty string');
  check(typeof r.description === 'string', 'description must be a string');
  check(typeof r.model?.name === 'string', 'model.name must be a string');
  check(datasetNames.includes(r.data?.dataset), `data.dataset must be one of ${datasetNames.join(', ')}`);
  if (typeof r.model?.name === 'string' && typeof r.model.config === 'object' && r.model.config !== null) {
    try {
      const classes = modelConfig(r.model.name, r.model.config).numClasses;
      const needed = datasets[r.data?.dataset]?.classes.fine;
      check(
        needed === undefined || classes === needed,
        `model ${r.model.name} has ${String(classes)} classes, ${r.data.dataset} has ${needed}: set model.config.numClasses=${needed}`,
      );
    } catch (e) {
      problems.push((e as Error).message);
    }
  } else problems.push('model.config must be an object');
  check(
    pipelineNames.includes(r.data?.trainPipeline) && pipelineNames.includes(r.data?.testPipeline),
    `data pipelines must be among ${pipelineNames.join(', ')}`,
  );
  check(
    positiveInt(r.data?.batchSize) && r.data.batchSize <= maxBatchSize,
    `data.batchSize must be an integer in 1..${maxBatchSize}`,
  );
  check(
    Number.isInteger(r.data?.workers) && r.data.workers >= 0 && r.data.workers <= maxWorkers,
    `data.workers must be an integer in 0..${maxWorkers} (loader threads; more than the cores only contend)`,
  );
  check(positiveInt(r.epochs) && r.epochs <= maxEpochs, `epochs must be an integer in 1..${maxEpochs}`);
  return problems;
}

/** The epochs, the schedule, the loss, pruning and the run options. */
function trainingProblems(r: Recipe): string[] {
  const { problems, check } = collector();
  check(typeof r.restartOptimizerOnPrune === 'boolean', 'restartOptimizerOnPrune must be a boolean');
  check(typeof r.schedule?.lr === 'number' && r.schedule.lr > 0, 'schedule.lr must be positive');
  check(
    Number.isInteger(r.schedule?.warmupEpochs) && r.schedule.warmupEpochs >= 0 && r.schedule.warmupEpochs <= r.epochs,
    'schedule.warmupEpochs must be an integer in [0, epochs]',
  );
  problems.push(...lateEpochProblems(r, 'schedule.milestones', r.schedule?.milestones, 'milestone'));
  check(nonNegative(r.schedule?.gamma) && r.schedule.gamma <= 1, 'schedule.gamma must be in [0, 1]');
  check(
    r.schedule?.gammaAfterPrune === null ||
      (nonNegative(r.schedule?.gammaAfterPrune) && (r.schedule.gammaAfterPrune as number) <= 1),
    'schedule.gammaAfterPrune must be null or in [0, 1]',
  );
  check(nonNegative(r.loss?.smoothing) && r.loss.smoothing < 1, 'loss.smoothing must be in [0, 1)');
  check(['uniform', 'others'].includes(r.loss?.form), 'loss.form must be uniform or others');
  check(nonNegative(r.pruning?.q), 'pruning.q must be >= 0');
  check(
    ['masked-weights', 'zero-params'].includes(r.pruning?.gradientMasking),
    'pruning.gradientMasking must be masked-weights or zero-params',
  );
  problems.push(...pruneEventProblems(r));
  check(Number.isSafeInteger(r.seed) && r.seed >= 0, `seed must be an integer in 0..${Number.MAX_SAFE_INTEGER}`);
  check(['float32', 'bfloat16'].includes(r.precision), 'precision must be float32 or bfloat16');
  check(typeof r.channelsLast === 'boolean', 'channelsLast must be a boolean');
  check(typeof r.cudaGraph === 'boolean', 'cudaGraph must be a boolean');
  check(
    r.initialWeights === null || (typeof r.initialWeights === 'string' && r.initialWeights.length > 0),
    'initialWeights must be null or a checkpoint path',
  );
  return problems;
}

/** An epoch list's entries that are no epoch or come after the last one, each named with how to drop it. */
function lateEpochProblems(r: Recipe, path: string, list: unknown, what: string): string[] {
  if (!Array.isArray(list) || !list.every(positiveInt)) return [`${path} must be a list of positive integers (epochs)`];
  const kept = list.filter((m) => m <= r.epochs);
  return lateEntries(r, path, list, kept, what);
}

/** Pruning events: each {epoch in 1..epochs, layers: conv|linear|all}; one after the last epoch is named. */
function pruneEventProblems(r: Recipe): string[] {
  const events: unknown = r.pruning?.events;
  const layers = ['conv', 'linear', 'all'];
  if (!Array.isArray(events)) return ['pruning.events must be a list of {epoch, layers: conv|linear|all}'];
  const malformed = events.findIndex(
    (e) => typeof e !== 'object' || e === null || !positiveInt(e.epoch) || !layers.includes(e.layers),
  );
  if (malformed >= 0)
    return [`pruning.events[${malformed}] must be {epoch: a positive integer, layers: conv|linear|all}`];
  const typed = events as PruneEvent[];
  const kept = typed.filter((e) => e.epoch <= r.epochs);
  return lateEntries(
    r,
    'pruning.events',
    typed.map((e) => e.epoch),
    kept,
    'pruning event',
  );
}

/** `path[i] (epoch e) is after the last epoch (n)` for each late entry, and the override that drops them all. */
function lateEntries(r: Recipe, path: string, epochs: number[], kept: unknown[], what: string): string[] {
  const late = epochs.flatMap((e, i) => (e > r.epochs ? [`${path}[${i}] (epoch ${e})`] : []));
  if (!late.length) return [];
  const its = late.length === 1 ? 'it' : 'them';
  return [
    `${late.join(', ')} ${late.length === 1 ? 'is' : 'are'} after the last epoch (${r.epochs}): ` +
      `a ${what} there never happens; drop ${its} with --set '${path}=${JSON.stringify(kept)}' ` +
      `(or keep ${its} with --set epochs=${Math.max(...epochs)})`,
  ];
}

/** The quantization-aware phase, when there is one. */
function quantizationProblems(r: Recipe): string[] {
  const { problems, check } = collector();
  const q = r.quantization;
  if (q !== null) {
    if (typeof q !== 'object' || q === undefined) return ['quantization must be null or an object'];
    else {
      problems.push(...checkQuantizationConfig(q).map((p) => `quantization.${p}`));
      check(positiveInt(q.startEpoch) && q.startEpoch <= r.epochs, 'quantization.startEpoch must be in 1..epochs');
      check(
        q.freezeEpoch === null ||
          (positiveInt(q.freezeEpoch) && q.freezeEpoch >= q.startEpoch && q.freezeEpoch <= r.epochs),
        'quantization.freezeEpoch must be null or in startEpoch..epochs',
      );
      check(typeof q.lr === 'number' && q.lr > 0, 'quantization.lr must be positive');
      problems.push(...lateEpochProblems(r, 'quantization.milestones', q.milestones, 'milestone'));
      check(nonNegative(q.gamma) && q.gamma <= 1, 'quantization.gamma must be in [0, 1]');
      check(r.precision === 'float32', 'quantization-aware training runs in float32 (precision=float32)');
      check(
        !r.pruning?.events?.some((e) => e?.epoch >= q.startEpoch),
        'pruning events must come before quantization.startEpoch',
      );
    }
  }
  return problems;
}

export function validateRecipe(r: Recipe): Recipe {
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    throw new RecipeError(`a recipe must be an object, got ${JSON.stringify(r) ?? 'nothing'}`);
  const problems = [
    ...unknownFieldProblems(r),
    ...modelAndDataProblems(r),
    ...checkOptimizerConfig(r.optimizer),
    ...trainingProblems(r),
    ...quantizationProblems(r),
  ];
  if (problems.length)
    throw new RecipeError(`recipe ${typeof r.name === 'string' ? r.name : '?'}: ${problems.join('; ')}`);
  return r;
}

/**
 * Applies `path=value` overrides (e.g. `epochs=10`, `optimizer.nesterov=false`,
 * `schedule.milestones=[3,6]`, `model.config.width=0.5`): the path must exist, the value must
 * have the type of the value it replaces (JSON for arrays and objects), and the result is validated.
 */
export function applyOverrides(recipe: Recipe, overrides: readonly string[]): Recipe {
  const copy = structuredClone(recipe) as unknown as Record<string, unknown>;
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new RecipeError(`--set needs path=value, got '${o}'`);
    const path = o.slice(0, eq).split('.');
    const raw = o.slice(eq + 1);
    // Own fields only, so that `__proto__`, `constructor` or `toString` never reach a prototype.
    const unknown = () => new RecipeError(`unknown recipe field '${path.join('.')}'`);
    let parent: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = Object.hasOwn(parent, key) ? parent[key] : undefined;
      if (typeof next !== 'object' || next === null || Array.isArray(next)) throw unknown();
      parent = next as Record<string, unknown>;
    }
    const key = path.at(-1)!;
    if (!Object.hasOwn(parent, key)) throw unknown();
    // Another optimizer or network takes other fields: it starts from its own defaults (a network
    // keeps the number of classes, which the data set fixes).
    const other = path.join('.') === 'optimizer.name' && raw !== parent[key] ? optimizerDefaults(raw) : null;
    if (other) copy.optimizer = other;
    else if (path.join('.') === 'model.name' && raw !== parent[key]) copy.model = otherModel(raw, copy.model);
    else parent[key] = parseLike(parent[key], raw, path.join('.'));
  }
  return validateRecipe(copy as unknown as Recipe);
}

/** The recipe's model switched to another registered network, at its defaults and the same number of classes. */
function otherModel(name: string, current: unknown): Recipe['model'] {
  const classes = (current as Recipe['model'] | undefined)?.config?.numClasses;
  try {
    return { name, config: modelConfig(name, typeof classes === 'number' ? { numClasses: classes } : {}) };
  } catch (e) {
    throw new RecipeError(`--set model.name=${name}: ${(e as Error).message}`);
  }
}

function parseLike(current: unknown, raw: string, path: string): unknown {
  const bad = (what: string) => new RecipeError(`--set ${path}: expected ${what}, got '${raw}'`);
  if (typeof current === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw bad('a number');
    return n;
  }
  if (typeof current === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw bad('true or false');
    return raw === 'true';
  }
  if (typeof current === 'string') return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // An optional field (null now) takes JSON or, failing that, the text itself (a path); validation decides.
    if (current === null) return raw;
    throw bad('JSON');
  }
  if (current !== null && (Array.isArray(current) !== Array.isArray(parsed) || typeof parsed !== 'object')) {
    throw bad(Array.isArray(current) ? 'a JSON array' : 'a JSON object');
  }
  return parsed;
}

/**
 * A recipe saved by an earlier release, in today's form: releases before optimizers had names
 * saved SGD's fields alone. What cannot be upgraded is left for validateRecipe to refuse.
 */
export function upgradeRecipe(saved: unknown): unknown {
  if (typeof saved !== 'object' || saved === null) return saved;
  const r = saved as { optimizer?: unknown };
  if (typeof r.optimizer === 'object' && r.optimizer !== null && !('name' in r.optimizer)) {
    return { ...r, optimizer: { name: 'sgd', ...r.optimizer } };
  }
  return saved;
}
