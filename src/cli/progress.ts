// Training progress for people: a redrawn bar on a terminal, plain lines otherwise, with the time
// left in the epoch and in the run, estimated from this process's own pace.
import { counted } from '../text.js';
import type { EpochMetrics } from '../checkpoint/metrics.js';
import type { TrainEvents } from '../train/trainer.js';
import type { PruneResult } from '../prune/prune.js';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Seconds as `m:ss` or `h:mm:ss`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * The time left in the epoch and in the run: steps left at the pace of the steps so far in this
 * epoch, and the remaining epochs at the wall time of the last whole epoch (evaluation and
 * checkpoint included), or before one was seen, at the step pace.
 */
export class Eta {
  #epochStart = 0;
  #firstBatch = 0;
  #epoch = -1;
  #lastEpochSeconds: number | null = null;
  #secondsPerStep: number | null = null;

  constructor(
    readonly epochs: number,
    readonly now = () => performance.now() / 1000,
  ) {}

  step(epoch: number, batch: number, batches: number): { epoch: number; run: number } | null {
    const t = this.now();
    if (epoch !== this.#epoch) {
      // The clock of an epoch starts at its first step seen here (a resumed epoch's skipped steps cost nothing);
      // `batch` counts the steps done, this one included.
      this.#epoch = epoch;
      this.#epochStart = t;
      this.#firstBatch = batch;
    } else {
      this.#secondsPerStep = (t - this.#epochStart) / (batch - this.#firstBatch);
    }
    if (this.#secondsPerStep === null) return null;
    const left = (batches - batch) * this.#secondsPerStep;
    const perEpoch = this.#lastEpochSeconds ?? batches * this.#secondsPerStep;
    return { epoch: left, run: left + (this.epochs - epoch) * perEpoch };
  }

  /** Epoch `epoch` has ended (after its evaluation and checkpoint): the time left in the run, once known. */
  epochEnd(epoch: number): number | null {
    const t = this.now();
    // Whole epochs only; the clock started after the first step, which is counted at the average pace.
    if (this.#epoch === epoch && this.#firstBatch === 1)
      this.#lastEpochSeconds = t - this.#epochStart + (this.#secondsPerStep ?? 0);
    this.#epoch = -1;
    return this.#lastEpochSeconds === null ? null : (this.epochs - epoch) * this.#lastEpochSeconds;
  }
}

/** Where progress goes and, without a terminal, how often a step line is written. */
export interface ProgressOptions {
  stream?: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
  /** Without a terminal: a line every this many steps (default: one every `seconds`). */
  logInterval?: number;
  seconds?: number;
  now?: () => number;
}

/**
 * Progress for people: on a terminal, one redrawn line; otherwise (a log file, a pipe) a plain
 * line every `logInterval` steps or every `seconds` seconds, so that a log shows progress within an epoch.
 */
export function progressReporter(epochs: number, o: ProgressOptions = {}): TrainEvents {
  const stream = o.stream ?? process.stderr;
  const now = o.now ?? (() => performance.now() / 1000);
  const seconds = o.seconds ?? 30;
  const tty = stream.isTTY === true;
  let drawn = false;
  let lastLine = now();
  const eta = new Eta(epochs, now);
  const clear = () => {
    if (drawn) {
      stream.write('\r\x1b[K');
      drawn = false;
    }
  };
  const due = (step: number) => {
    if (o.logInterval) return step % o.logInterval === 0;
    if (now() - lastLine < seconds) return false;
    lastLine = now();
    return true;
  };
  return {
    step({ epoch, batch, batches, loss, lr, imagesPerSecond }) {
      const left = eta.step(epoch, batch, batches);
      const figures =
        `  loss ${loss.toFixed(4)}  lr ${lr.toPrecision(3)}  ${imagesPerSecond.toFixed(0)} img/s` +
        (left ? `  eta ${clock(left.epoch)}, run ${clock(left.run)}` : '');
      if (!tty) {
        if (due(batch)) stream.write(`epoch ${epoch}/${epochs} step ${batch}/${batches}${figures}\n`);
        return;
      }
      const width = 24;
      const done = Math.round((width * batch) / batches);
      stream.write(
        `\r\x1b[Kepoch ${epoch}/${epochs} [${'='.repeat(done)}${' '.repeat(width - done)}] ${batch}/${batches}${figures}`,
      );
      drawn = true;
    },
    epoch(m: EpochMetrics) {
      const left = eta.epochEnd(m.epoch);
      clear();
      stream.write(
        `epoch ${m.epoch}/${epochs}  lr ${m.lr.toPrecision(3)}  train loss ${m.trainLoss.toFixed(4)} top-1 ${pct(m.trainTop1)}` +
          `  test loss ${m.testLoss.toFixed(4)} top-1 ${pct(m.testTop1)} top-5 ${pct(m.testTop5)}  sparsity ${pct(m.sparsity)}` +
          `  ${m.seconds.toFixed(0)}s ${m.imagesPerSecond.toFixed(0)} img/s${left && m.epoch < epochs ? `  run eta ${clock(left)}` : ''}\n`,
      );
    },
    prune(epoch: number, results: PruneResult[]) {
      clear();
      const before = results.reduce((s, r) => s + r.before, 0);
      const after = results.reduce((s, r) => s + r.after, 0);
      const total = results.reduce((s, r) => s + r.numel, 0);
      stream.write(
        `epoch ${epoch}: pruned ${counted(results.length, 'layer')}, ${(before - after).toLocaleString('en-US')} weights removed, ` +
          `${pct(1 - after / total)} of their weights now zero\n`,
      );
    },
    message(text: string) {
      clear();
      stream.write(`${text}\n`);
    },
  };
}
