// Training progress for people: a redrawn bar on a terminal, plain lines otherwise.
import type { EpochMetrics } from '../train/state.js';
import type { TrainEvents } from '../train/trainer.js';
import type { PruneResult } from '../prune/prune.js';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function progressReporter(epochs: number, stream: NodeJS.WriteStream = process.stderr): TrainEvents {
  const tty = stream.isTTY === true;
  let drawn = false;
  const clear = () => { if (drawn) { stream.write('\r\x1b[K'); drawn = false; } };
  return {
    step({ epoch, batch, batches, loss, lr, imagesPerSecond }) {
      if (!tty) return;
      const width = 24;
      const done = Math.round((width * batch) / batches);
      stream.write(`\r\x1b[Kepoch ${epoch}/${epochs} [${'='.repeat(done)}${' '.repeat(width - done)}] ${batch}/${batches}`
        + `  loss ${loss.toFixed(4)}  lr ${lr.toPrecision(3)}  ${imagesPerSecond.toFixed(0)} img/s`);
      drawn = true;
    },
    epoch(m: EpochMetrics) {
      clear();
      stream.write(`epoch ${m.epoch}/${epochs}  lr ${m.lr.toPrecision(3)}  train loss ${m.trainLoss.toFixed(4)} top-1 ${pct(m.trainTop1)}`
        + `  test loss ${m.testLoss.toFixed(4)} top-1 ${pct(m.testTop1)} top-5 ${pct(m.testTop5)}  sparsity ${pct(m.sparsity)}`
        + `  ${m.seconds.toFixed(0)}s ${m.imagesPerSecond.toFixed(0)} img/s\n`);
    },
    prune(epoch: number, results: PruneResult[]) {
      clear();
      const before = results.reduce((s, r) => s + r.before, 0);
      const after = results.reduce((s, r) => s + r.after, 0);
      const total = results.reduce((s, r) => s + r.numel, 0);
      stream.write(`epoch ${epoch}: pruned ${results.length} layers, ${(before - after).toLocaleString('en-US')} weights removed, `
        + `${pct(1 - after / total)} of their weights now zero\n`);
    },
    message(text: string) {
      clear();
      stream.write(`${text}\n`);
    },
  };
}
