// What a run comes to, in the words both the end of `micronet train` and the report lead with:
// accuracy, sparsity and the score under both rule sets, beside the seed entry's published figures.
import type { Module } from '../nn/index.js';
import { sparsity } from '../prune/prune.js';
import {
  defaultBits,
  publishedEntry,
  ruleNames,
  ruleSet,
  scoreModel,
  top1Bar,
  type ScoreReport,
} from '../score/index.js';
import type { EpochMetrics } from '../checkpoint/metrics.js';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { bestCheckpoint } from '../checkpoint/run-dir.js';
import { readTrainState } from '../checkpoint/train-file.js';
import { dataSourceText, type DataSource } from '../data/synthetic.js';

/** The epoch best.safetensors holds: the best test top-1 among the epochs at the run's final pruning stage. */
export interface BestEpoch {
  path: string;
  epoch: number;
  top1: number;
  sparsity: number;
}

/** What a run directory's best.safetensors holds; null when there is none or it cannot be read. */
export function bestEpoch(dir: string): BestEpoch | null {
  const path = bestCheckpoint(dir);
  if (!existsSync(path)) return null;
  try {
    const m = readTrainState(path).history.at(-1);
    return m ? { path, epoch: m.epoch, top1: m.testTop1, sparsity: m.sparsity } : null;
  } catch {
    return null;
  }
}

/** A run's final figures: its last epoch's accuracy, its model's sparsity and scores. */
export interface RunSummary {
  /** The epoch the figures are from, and the recipe's number of epochs (null when not known). */
  epoch: number;
  epochs: number | null;
  top1: number;
  top5: number;
  /** Test images the accuracy was measured on, where known. */
  count: number | null;
  /** Zero fraction of the conv/linear weights. */
  sparsity: number;
  /** One report per rule set, in the registry's order (the challenge's rules first). */
  scores: ScoreReport[];
  /** The data the run trained on, where its checkpoint says. */
  data: DataSource | null;
  /** The epoch best.safetensors holds, where there is one. */
  best: BestEpoch | null;
}

/** One line of the summary: what it is, this run's value, and the published entry's where it has one. */
export interface SummaryRow {
  what: string;
  run: string;
  entry: string;
}

const pct = (f: number) => `${(100 * f).toFixed(2)}%`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Scores `model` (at its own bits when quantized, else the 16-bit freebie) and gathers the figures of `last`. */
export function summariseRun(
  model: Module,
  last: EpochMetrics,
  options: { epochs?: number; count?: number; data?: DataSource | null; best?: BestEpoch | null } = {},
): RunSummary {
  const s = sparsity(model);
  const bits = defaultBits(model);
  return {
    epoch: last.epoch,
    epochs: options.epochs ?? null,
    top1: last.testTop1,
    top5: last.testTop5,
    count: options.count ?? null,
    sparsity: s.zeros / s.total,
    data: options.data ?? null,
    best: options.best ?? null,
    scores: ruleNames.flatMap((rules) => {
      try {
        return [scoreModel(model, { rules, bits })];
      } catch (e) {
        // The entry's own rules know only its network; the challenge's must score any.
        if (rules === 'official') throw e;
        return [];
      }
    }),
  };
}

/** The summary as rows, the published entry's figures beside the run's where they compare. */
export function summaryRows(s: RunSummary): SummaryRow[] {
  const e = publishedEntry;
  const rows: SummaryRow[] = [
    { what: 'test top-1', run: pct(s.top1), entry: pct(e.top1) },
    { what: 'test top-5', run: pct(s.top5), entry: '' },
    { what: 'sparsity of conv/linear weights', run: pct(s.sparsity), entry: '' },
  ];
  for (const r of s.scores) {
    const width = r.bitWidth === 'mixed' ? 'quantized' : `${r.bitWidth}-bit`;
    const ops = ruleSet(r.rules).opsName;
    const own = r.rules === e.rules;
    rows.push({
      what: `MicroNet score (${r.rules} rules)`,
      run: `${r.score.toFixed(6)} (${width}; params ${int(r.params)}, ${ops} ${int(r.ops)})`,
      entry: own ? `${e.score.toFixed(4)} (${e.bitWidth}-bit; params ${int(e.params)}, ${ops} ${int(e.ops)})` : '',
    });
  }
  return rows;
}

/** The summary as terminal lines. */
export function formatSummary(s: RunSummary): string[] {
  const [top1, top5, ...rest] = summaryRows(s);
  const where = `${s.count === null ? '' : ` on ${s.count} images`} (epoch ${s.epoch}${s.epochs === null || s.epochs === s.epoch ? '' : ` of ${s.epochs}`})`;
  return [
    `final: test top-1 ${top1!.run}, top-5 ${top5!.run}${where}; the entry published ${top1!.entry}; ${barText(s.top1)}`,
    ...rest.map((r) => `${r.what}: ${r.run}${r.entry ? `; the entry: ${r.entry}` : ''}`),
    ...(s.data ? [`data: ${dataSourceText(s.data)}`] : []),
    ...(s.best ? [bestText(s.best)] : []),
  ];
}

/** Whether a top-1 clears the challenge's bar, in words. */
export const barText = (top1: number) =>
  `${top1 >= top1Bar ? 'clears' : 'below'} the challenge's ${pct(top1Bar)} top-1 bar`;

/** What best.safetensors is, in words. */
export const bestText = (b: BestEpoch) =>
  `best: epoch ${b.epoch}, the best test top-1 (${pct(b.top1)}) at the final sparsity ${pct(b.sparsity)}: ${basename(b.path)}`;
