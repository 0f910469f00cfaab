// A run directory read for a report: its metrics (metrics.jsonl, with the training checkpoint's
// own history filling what a damaged or missing file lacks), its recipe and position, and its
// model's per-layer density and scores; whatever cannot be read becomes a stated problem, not a
// failure, so that a run in progress or a damaged one still gets its report.
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { loadModelCheckpoint } from '../checkpoint/model-file.js';
import type { Recipe } from '../recipes/index.js';
import { parentRun, readTrainState, type Position } from '../checkpoint/train-file.js';
import type { DataSource } from '../data/synthetic.js';
import { metricNames, metricsRangeProblems, parseMetricsLine, type EpochMetrics } from '../checkpoint/metrics.js';
import { maxEpochs } from '../recipes/recipe.js';
import { printable, counted } from '../text.js';
import { lastCheckpoint, metricsFile, quantizedCheckpoint, runHolder } from '../checkpoint/run-dir.js';
import { bestEpoch, summariseRun, type BestEpoch, type RunSummary } from './summary.js';

/** What a report shows of one run. */
export interface RunRecord {
  dir: string;
  /** The directory's name, how charts tell runs apart. */
  name: string;
  recipe: Recipe | null;
  position: Position | null;
  /** Complete, in progress (with its process), or stopped and resumable. */
  status: string;
  /** One entry per epoch, in order. */
  metrics: EpochMetrics[];
  /** The last checkpoint's figures (null without a readable checkpoint or a finished epoch). */
  summary: RunSummary | null;
  /** Whether the run has an integer checkpoint. */
  quantized: boolean;
  /** The data the run trained on, and the device; null where its checkpoint does not say (earlier releases). */
  data: DataSource | null;
  device: string | null;
  /**
   * The run this one continues (its recipe's initialWeights are that run's checkpoint, e.g. a QAT
   * run's float parent) and the epochs that run had done: this run's epochs are drawn after them.
   */
  parent: { dir: string; epochs: number } | null;
  /** The epoch best.safetensors holds. */
  best: BestEpoch | null;
  /** What is missing or damaged, in words. */
  problems: string[];
}

/** Reads what a report needs from a run directory; throws only when `dir` is not a run at all. */
export function readRun(dir: string): RunRecord {
  const last = lastCheckpoint(dir);
  const metricsPath = metricsFile(dir);
  const checkpointed = existsSync(last);
  if (!checkpointed && !existsSync(metricsPath)) {
    throw new Error(`${dir} is not a run directory: it has neither ${basename(last)} nor ${basename(metricsPath)}`);
  }
  const problems: string[] = [];
  // Messages may quote a damaged file: nothing in them reaches a terminal raw.
  const note = (p: string) => void problems.push(printable(p));
  const saved = checkpointed ? readSaved(last, note) : null;
  if (!checkpointed) note(`no ${basename(last)} yet: the recipe, per-layer density and scores are missing`);
  const lines = readMetrics(metricsPath, saved?.recipe.epochs ?? maxEpochs, note);
  // The checkpoint's validated history is the record; metrics.jsonl only stands in where there is no checkpoint.
  const metrics = saved ? reconcile(saved.history, lines, basename(metricsPath), basename(last), note) : lines;
  if (saved)
    for (const m of metrics) for (const p of metricsRangeProblems(m)) note(`${basename(last)}, epoch ${m.epoch}: ${p}`);
  const done = saved ? saved.position.epoch - 1 : (metrics.at(-1)?.epoch ?? 0);
  const gaps = gapRanges(
    metrics.map((m) => m.epoch),
    done,
  );
  if (gaps) note(`no metrics for ${epochsText(gaps)}`);
  const recipe = saved?.recipe ?? null;
  if (recipe && done < recipe.epochs)
    note(
      done + 1 === recipe.epochs
        ? `epoch ${recipe.epochs} has not finished`
        : `epochs ${done + 1} to ${recipe.epochs} have not finished`,
    );
  let summary: RunSummary | null = null;
  if (checkpointed && metrics.length) summary = summaryOf(last, metrics.at(-1)!, recipe, note);
  else if (checkpointed) note('no epoch has finished yet: accuracy, per-layer density and scores come after the first');
  const position = saved?.position ?? null;
  const parent = parentRun(recipe?.initialWeights ?? null);
  return {
    dir,
    name: basename(resolve(dir)),
    recipe,
    position,
    status: printable(runStatus(dir, recipe, position, metrics.length)),
    metrics,
    summary,
    quantized: existsSync(quantizedCheckpoint(dir)),
    data: saved?.data ?? null,
    device: saved?.device ?? null,
    parent: parent && { dir: parent.dir, epochs: parent.state.position.epoch - 1 },
    best: bestEpoch(dir),
    problems,
  };
}

/** The training checkpoint's recipe, position and history; null (and a problem) when it cannot be read. */
function readSaved(path: string, note: (p: string) => void) {
  try {
    const { recipe, position, history, data, device } = readTrainState(path);
    return { recipe, position, history, data, device };
  } catch (e) {
    note(`${basename(path)} cannot be read (${(e as Error).message}): the recipe, schedule and position are missing`);
    return null;
  }
}

/** The last checkpoint's model scored, with the last epoch's accuracy. */
function summaryOf(
  path: string,
  lastEpoch: EpochMetrics,
  recipe: Recipe | null,
  note: (p: string) => void,
): RunSummary | null {
  try {
    const { model } = loadModelCheckpoint(path);
    try {
      return summariseRun(model, lastEpoch, recipe ? { epochs: recipe.epochs } : {});
    } finally {
      model.dispose();
    }
  } catch (e) {
    note(
      `the model of ${basename(path)} cannot be read (${(e as Error).message}): per-layer density and scores are missing`,
    );
    return null;
  }
}

/**
 * The checkpoint's history, with what metrics.jsonl says of it checked: a line that disagrees, a
 * missing line and a line for an epoch the checkpoint has not finished are each named.
 */
function reconcile(
  history: EpochMetrics[],
  lines: EpochMetrics[],
  metricsName: string,
  checkpointName: string,
  note: (p: string) => void,
): EpochMetrics[] {
  const byEpoch = new Map(lines.map((m) => [m.epoch, m]));
  const lacking: number[] = [];
  for (const m of history) {
    const line = byEpoch.get(m.epoch);
    if (!line) lacking.push(m.epoch);
    else {
      const differ = metricNames.filter((k) => line[k] !== m[k]);
      if (differ.length)
        note(
          `${metricsName} disagrees with ${checkpointName} on epoch ${m.epoch} (${differ
            .slice(0, 3)
            .map((k) => `${k} ${line[k]} against ${m[k]}`)
            .join(', ')}${differ.length > 3 ? ', ...' : ''}): the checkpoint's figures are shown`,
        );
    }
  }
  if (lacking.length) note(`${metricsName} lacks ${epochsText(asRanges(lacking))}: taken from ${checkpointName}`);
  const ahead = lines.filter((m) => m.epoch > history.length).map((m) => m.epoch);
  if (ahead.length)
    note(`${metricsName} has ${epochsText(asRanges(ahead))}, which ${checkpointName} has not finished: left out`);
  return history;
}

/** "epoch 3" or "epochs 3-5, 9". */
const epochsText = (ranges: string) => `${/[-,]/.test(ranges) ? 'epochs' : 'epoch'} ${ranges}`;

/** Sorted epochs as ranges: [3, 4, 5, 9] -> "3-5, 9". */
function asRanges(epochs: number[]): string {
  const ranges: [number, number][] = [];
  for (const e of epochs) {
    const prev = ranges.at(-1);
    if (prev && prev[1] + 1 === e) prev[1] = e;
    else ranges.push([e, e]);
  }
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
}

/** The epochs of 1..done that `have` (sorted) lacks, as ranges; the work is bounded by the entries, not by `done`. */
function gapRanges(have: number[], done: number): string {
  const gaps: string[] = [];
  let next = 1;
  for (const e of [...have, done + 1]) {
    if (e > next) gaps.push(e - 1 === next ? `${next}` : `${next}-${e - 1}`);
    next = Math.max(next, e + 1);
  }
  return gaps.join(', ');
}

/** metrics.jsonl's epochs in order; damaged, out-of-range and repeated lines are left out and named. */
function readMetrics(path: string, maxEpoch: number, note: (p: string) => void): EpochMetrics[] {
  const byEpoch = new Map<number, EpochMetrics>();
  if (!existsSync(path)) {
    note(`no ${basename(path)}`);
    return [];
  }
  const name = basename(path);
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let value: EpochMetrics | null;
      try {
        value = parseMetricsLine(line);
      } catch (e) {
        note(`${name} line ${i + 1} is damaged (${(e as Error).message}) and left out`);
        return;
      }
      const outOfRange = value ? metricsRangeProblems(value) : [];
      if (!value) note(`${name} line ${i + 1} is not one epoch's metrics and is left out`);
      else if (value.epoch < 1 || value.epoch > maxEpoch)
        note(`${name} line ${i + 1} claims epoch ${value.epoch}, outside the run's 1..${maxEpoch}, and is left out`);
      else if (outOfRange.length) note(`${name} line ${i + 1} is out of range (${outOfRange.join('; ')}) and left out`);
      else if (byEpoch.has(value.epoch)) note(`${name} line ${i + 1} repeats epoch ${value.epoch} and is left out`);
      else byEpoch.set(value.epoch, value);
    });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

function runStatus(dir: string, recipe: Recipe | null, position: Position | null, epochsDone: number): string {
  const epochs = recipe ? ` of ${recipe.epochs}` : '';
  if (recipe && position && position.epoch > recipe.epochs) return `complete: ${counted(recipe.epochs, 'epoch')}`;
  const holder = runHolder(dir);
  const where = position?.batch
    ? `at epoch ${position.epoch}, batch ${position.batch}`
    : `after epoch ${epochsDone}${epochs}`;
  if (holder && holder.alive !== false) {
    return `in progress: ${epochsDone} epoch${epochsDone === 1 ? '' : 's'}${epochs} done (process ${holder.pid} on ${holder.host}, since ${holder.since})`;
  }
  return position ? `stopped ${where}: continue it with micronet train --resume ${dir}` : `stopped ${where}`;
}
