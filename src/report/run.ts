// A run directory read for a report: its metrics (metrics.jsonl, with the training checkpoint's
// own history filling what a damaged or missing file lacks), its recipe and position, and its
// model's per-layer density and scores; whatever cannot be read becomes a stated problem, not a
// failure, so that a run in progress or a damaged one still gets its report.
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { loadModelCheckpoint } from '../checkpoint/model-file.js';
import type { Recipe } from '../recipes/index.js';
import { readTrainState, type Position } from '../checkpoint/train-file.js';
import { parseMetricsLine, type EpochMetrics } from '../checkpoint/metrics.js';
import { lastCheckpoint, metricsFile, quantizedCheckpoint, runHolder } from '../checkpoint/run-dir.js';
import { summarise, type RunSummary } from './summary.js';

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
  const byEpoch = readMetrics(metricsPath, problems);

  let recipe: Recipe | null = null;
  let position: Position | null = null;
  if (checkpointed) {
    try {
      const state = readTrainState(last);
      ({ recipe, position } = state);
      const filled = state.history.filter((m) => !byEpoch.has(m.epoch));
      for (const m of filled) byEpoch.set(m.epoch, m);
      if (filled.length)
        problems.push(
          `${basename(metricsPath)} lacks epoch${filled.length > 1 ? 's' : ''} ${filled.map((m) => m.epoch).join(', ')}: taken from ${basename(last)}`,
        );
    } catch (e) {
      problems.push(
        `${basename(last)} cannot be read (${(e as Error).message}): the recipe, schedule and position are missing`,
      );
    }
  } else {
    problems.push(`no ${basename(last)} yet: the recipe, per-layer density and scores are missing`);
  }
  const metrics = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  const done = position ? position.epoch - 1 : Math.max(0, ...byEpoch.keys());
  const gaps = Array.from({ length: done }, (_, i) => i + 1).filter((e) => !byEpoch.has(e));
  if (gaps.length) problems.push(`no metrics for epoch${gaps.length > 1 ? 's' : ''} ${gaps.join(', ')}`);
  if (recipe && done < recipe.epochs)
    problems.push(
      done + 1 === recipe.epochs
        ? `epoch ${recipe.epochs} has not finished`
        : `epochs ${done + 1} to ${recipe.epochs} have not finished`,
    );

  let summary: RunSummary | null = null;
  if (checkpointed && metrics.length) {
    try {
      const { model } = loadModelCheckpoint(last);
      try {
        summary = summarise(model, metrics.at(-1)!, recipe ? { epochs: recipe.epochs } : {});
      } finally {
        model.dispose();
      }
    } catch (e) {
      problems.push(
        `the model of ${basename(last)} cannot be read (${(e as Error).message}): per-layer density and scores are missing`,
      );
    }
  } else if (checkpointed) {
    problems.push('no epoch has finished yet: accuracy, per-layer density and scores come after the first');
  }
  return {
    dir,
    name: basename(resolve(dir)),
    recipe,
    position,
    status: runStatus(dir, recipe, position, metrics.length),
    metrics,
    summary,
    quantized: existsSync(quantizedCheckpoint(dir)),
    problems,
  };
}

/** metrics.jsonl by epoch; damaged lines are left out and named in `problems`. */
function readMetrics(path: string, problems: string[]): Map<number, EpochMetrics> {
  const byEpoch = new Map<number, EpochMetrics>();
  if (!existsSync(path)) {
    problems.push(`no ${basename(path)}`);
    return byEpoch;
  }
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let value: EpochMetrics | null;
      try {
        value = parseMetricsLine(line);
      } catch (e) {
        problems.push(`${basename(path)} line ${i + 1} is damaged (${(e as Error).message}) and left out`);
        return;
      }
      if (!value) problems.push(`${basename(path)} line ${i + 1} is not one epoch's metrics and is left out`);
      else if (byEpoch.has(value.epoch))
        problems.push(`${basename(path)} line ${i + 1} repeats epoch ${value.epoch} and is left out`);
      else byEpoch.set(value.epoch, value);
    });
  return byEpoch;
}

function runStatus(dir: string, recipe: Recipe | null, position: Position | null, epochsDone: number): string {
  const epochs = recipe ? ` of ${recipe.epochs}` : '';
  if (recipe && position && position.epoch > recipe.epochs) return `complete: ${recipe.epochs} epochs`;
  const holder = runHolder(dir);
  const where = position?.batch
    ? `at epoch ${position.epoch}, batch ${position.batch}`
    : `after epoch ${epochsDone}${epochs}`;
  if (holder && holder.alive !== false) {
    return `in progress: ${epochsDone} epoch${epochsDone === 1 ? '' : 's'}${epochs} done (process ${holder.pid} on ${holder.host}, since ${holder.since})`;
  }
  return position ? `stopped ${where}: continue it with micronet train --resume ${dir}` : `stopped ${where}`;
}
