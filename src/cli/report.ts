// `micronet report RUN_DIR... [--out FILE.html]`: a self-contained HTML report of one run, or of
// several overlaid.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { readRun, renderReport } from '../report/index.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

export const reportCommand = defineCommand({
  name: 'report',
  positionals: '<run-dir>...',
  summary:
    'write an HTML report of a run (curves, pruning, per-layer density, score split, recipe); several runs overlay',
  options: {
    out: {
      type: 'string',
      help: 'the HTML file to write (default: RUN_DIR/report.html for one run, report.html for several)',
    },
  },
  run(o) {
    if (!o._.length)
      throw new UsageError('a run directory is needed: micronet report RUN_DIR [RUN_DIR...] [--out FILE.html]');
    const runs = o._.map((dir) => readRun(dir));
    const out = o.out ?? (runs.length === 1 ? join(o._[0]!, 'report.html') : 'report.html');
    writeFileAtomic(out, new TextEncoder().encode(renderReport(runs)));
    for (const r of runs) {
      console.log(`${r.name}: ${r.status}`);
      for (const p of r.problems) console.log(`  missing or damaged: ${p}`);
    }
    console.log(`report: ${out}`);
  },
});
