// metrics.jsonl: one JSON line per finished epoch, rewritten whole after every epoch. Lines carry
// `format` since format 2; lines without it are format 1 (micronet 0.1.0), which had the same
// fields. Readers need the fields below and keep any others, so that a release that adds a metric
// leaves older runs resumable and reportable, and older releases can read newer runs.

/** The format number written into every line. */
export const metricsFormat = 2;

/** What one epoch reports: its learning rate (at its last step), train and test loss and accuracy, sparsity, time and throughput. */
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

/** Each metric's TensorBoard tag: the scalars a run logs once per epoch. */
export const metricTags: Readonly<Record<keyof EpochMetrics, string>> = {
  epoch: 'epoch',
  lr: 'lr',
  trainLoss: 'loss/train',
  trainTop1: 'top1/train',
  testLoss: 'loss/test',
  testTop1: 'top1/test',
  testTop5: 'top5/test',
  sparsity: 'sparsity',
  seconds: 'time/epoch_seconds',
  imagesPerSecond: 'time/img_per_s',
};
/** The TensorBoard tag of one layer's sparsity, logged beside the epoch's metrics. */
export const layerSparsityTag = (layer: string) => `sparsity/${layer}`;
/** The TensorBoard tags of the loss and learning rate logged at every step. */
export const stepTags = { loss: 'step/loss', lr: 'step/lr' } as const;

/** The metrics' names, in the order of the interface. */
export const metricNames = Object.keys(metricTags) as (keyof EpochMetrics)[];

/**
 * Whether a value is one epoch's metrics: every field above, each a number (null: a non-finite
 * one written as JSON), and an integer epoch. Other fields may be present.
 */
export function isEpochMetrics(m: unknown): m is EpochMetrics {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  const fields = m as Record<string, unknown>;
  return (
    metricNames.every((k) => typeof fields[k] === 'number' || fields[k] === null) && Number.isInteger(fields.epoch)
  );
}

/** One line of metrics.jsonl (without its newline). */
export function metricsLine(m: EpochMetrics): string {
  return JSON.stringify({ format: metricsFormat, ...m });
}

/** An epoch's metrics from one line, its `format` dropped and any unknown field kept; null when the line is not one. */
export function parseMetricsLine(line: string): EpochMetrics | null {
  const value: unknown = JSON.parse(line);
  if (!isEpochMetrics(value)) return null;
  const { format, ...metrics } = value as EpochMetrics & { format?: unknown };
  if (format !== undefined && !(Number.isInteger(format) && (format as number) >= 1)) return null;
  return metrics;
}

/** The range of each metric: fractions in [0, 1], the rest non-negative; null (a non-finite value) is out of range too. */
const fractions = new Set<keyof EpochMetrics>(['trainTop1', 'testTop1', 'testTop5', 'sparsity']);

/** What is out of range in one epoch's metrics, by field (empty when nothing is). */
export function metricsRangeProblems(m: EpochMetrics): string[] {
  return metricNames.flatMap((k) => {
    const v = m[k];
    if (k === 'epoch') return v >= 1 ? [] : [`epoch ${v} is not a positive integer`];
    if (fractions.has(k)) return v !== null && v >= 0 && v <= 1 ? [] : [`${k} ${percentOf(v)} is outside 0..100%`];
    return v !== null && v >= 0 && Number.isFinite(v) ? [] : [`${k} ${v ?? 'non-finite'} is not a non-negative number`];
  });
}

const percentOf = (v: number | null) => (v === null ? 'non-finite' : `${+(100 * v).toPrecision(6)}%`);
