// The report page: one self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched)
// that leads with a run's summary beside the published entry, then its curves, per-layer density,
// the score split by block under both rule sets and the recipe; several runs overlay.
import {
  publishedEntry,
  reference,
  referenceLabels,
  ruleSet,
  type LayerScore,
  type ScoreReport,
} from '../score/index.js';
import { learningRate } from '../train/schedule.js';
import type { Recipe } from '../recipes/index.js';
import { barChart, escapeHtml as e, lineChart, palette, percent, type LineSeries, type Mark } from './charts.js';
import { barText, bestText, summaryRows } from './summary.js';
import { dataSourceText } from '../data/synthetic.js';
import { basename } from 'node:path';
import type { RunRecord } from './run.js';
import { flatten } from '../text.js';

const style = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --grid: #e4e7eb; --axis: #8c959f;
  --mark: #8250df; --panel: #f6f8fa; --border: #d1d9e0; --warn: #fff8c5; --warn-border: #d4a72c; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --grid: #262c36; --axis: #656c76;
  --mark: #ab7df8; --panel: #151b23; --border: #3d444d; --warn: #2e2a1a; --warn-border: #9e6a03; } }
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1480px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--border); padding-bottom: .25rem; }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid var(--border); padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--panel); } td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.differs td { background: var(--warn); }
.problems { background: var(--warn); border: 1px solid var(--warn-border); border-radius: 6px; padding: .5rem 1rem; margin: .75rem 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 540px), 1fr)); gap: 1rem; }
.chart { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; width: 100%; height: auto; display: block; }
.chart .hover circle { fill-opacity: .55; } .chart .hover circle:hover { fill-opacity: 1; }
.chart text { fill: var(--fg); font: 12px system-ui, sans-serif; } .chart .title { font-size: 14px; font-weight: 600; }
.chart .legend, .chart .value, .chart .empty { fill: var(--muted); } .chart .grid { stroke: var(--grid); } .chart .axis { stroke: var(--axis); }
.chart .mark { stroke: var(--mark); stroke-dasharray: 3 3; } .chart .mark-label { fill: var(--mark); font-size: 11px; }
details { margin: .5rem 0; } summary { cursor: pointer; color: var(--muted); }
code { background: var(--panel); padding: 0 .25rem; border-radius: 3px; }
`;

/** The report of one run, or of several overlaid, as one HTML document. */
export function renderReport(runs: RunRecord[], generated = new Date()): string {
  const title = `micronet report: ${runs.map((r) => r.name).join(', ')}`;
  const body = [
    `<h1>${e(title)}</h1>`,
    `<p class="muted">Generated ${e(generated.toISOString())} from ${runs.map((r) => `<code>${e(r.dir)}</code>`).join(', ')}.</p>`,
    ...runs.map(statusSection),
    runsSection(runs),
    summarySection(runs),
    `<h2>Training</h2><div class="charts">${curveCharts(runs).join('')}</div>`,
    densitySection(runs),
    scoreSection(runs),
    recipeSection(runs),
  ];
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="color-scheme" content="light dark"><title>${e(title)}</title><style>${style}</style></head>\n<body>\n${body.join('\n')}\n</body></html>\n`
  );
}

const colorOf = (i: number) => palette[i % palette.length]!;
/** Where a run's epochs start on the shared axis: a run that continues another (QAT after float) after that run's epochs. */
const offsetOf = (r: RunRecord) => r.parent?.epochs ?? 0;
const label = (runs: RunRecord[], r: RunRecord, what: string) => (runs.length > 1 ? `${r.name} ${what}` : what);

function statusSection(r: RunRecord): string {
  const problems = r.problems.length
    ? `<div class="problems" data-problems="${e(r.name)}"><strong>Missing or damaged in ${e(r.name)}:</strong><ul>${r.problems.map((p) => `<li>${e(p)}</li>`).join('')}</ul></div>`
    : '';
  const recipe = r.recipe ? `recipe <strong>${e(r.recipe.name)}</strong> (${e(r.recipe.description)}); ` : '';
  return `<p data-status="${e(r.name)}"><strong>${e(r.name)}</strong>: ${recipe}${e(r.status)}${r.quantized ? '; integer checkpoint written' : ''}.</p>${problems}`;
}

/** "12.3 s", "4 min 05 s", "2 h 03 min". */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Each run's facts: its data, device, wall time, where its epochs fall, the 80% bar and its best checkpoint. */
function runsSection(runs: RunRecord[]): string {
  const rows = runs.map((r) => {
    const last = r.metrics.at(-1);
    const seconds = r.metrics.reduce((sum, m) => sum + (m.seconds ?? 0), 0);
    const first = offsetOf(r) + 1;
    const epochs = last ? `${first}-${offsetOf(r) + last.epoch}` : 'none yet';
    const cells = [
      r.recipe?.name ?? 'unknown',
      r.data ? dataSourceText(r.data) : 'not recorded',
      r.device ?? 'not recorded',
      r.metrics.length ? duration(seconds) : 'none yet',
      r.parent ? `${epochs}, after ${basename(r.parent.dir)}` : epochs,
      last ? `${percent(last.testTop1)}: ${barText(last.testTop1)}` : 'no epoch yet',
      r.best ? bestText(r.best).replace(/^best: /, '') : 'none yet',
    ];
    return `<tr data-run="${e(r.name)}"><th>${e(r.name)}</th>${cells.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`;
  });
  const head = [
    'run',
    'recipe',
    'data',
    'device',
    'wall time (epochs summed)',
    'epochs',
    'test top-1',
    'best checkpoint',
  ];
  return `<h2>Runs</h2><table data-table="runs"><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr>${rows.join('')}</table>`;
}

function summarySection(runs: RunRecord[]): string {
  const withSummary = runs.filter((r) => r.summary);
  if (!withSummary.length)
    return '<h2>Summary</h2><p class="muted">No summary yet: it needs a finished epoch and a readable checkpoint.</p>';
  const tables = withSummary.map((r) => summaryRows(r.summary!));
  const head = `<tr><th></th>${withSummary.map((r) => `<th>${e(r.name)} (epoch ${r.summary!.epoch})</th>`).join('')}<th>the entry (published)</th></tr>`;
  const rows = tables[0]!.map(
    (row, i) =>
      `<tr><th>${e(row.what)}</th>${tables.map((t) => `<td class="num">${e(t[i]?.run ?? '')}</td>`).join('')}` +
      `<td class="num">${e(tables.map((t) => t[i]?.entry).find((x) => x) ?? '')}</td></tr>`,
  );
  return `<h2>Summary</h2><table data-table="summary">${head}${rows.join('')}</table>`;
}

/** Where the recipe's events fall on the epoch axis: pruning and quantization start before their epoch's first step. */
function eventMarks(runs: RunRecord[]): Mark[] {
  const marks = new Map<string, Mark>();
  for (const r of runs) {
    if (!r.recipe) continue;
    const at = (epoch: number) => offsetOf(r) + epoch - 1;
    for (const p of r.recipe.pruning.events)
      marks.set(`p${at(p.epoch)}${p.layers}`, { at: at(p.epoch), label: `prune ${p.layers}` });
    const q = r.recipe.quantization;
    if (q)
      marks.set(`q${at(q.startEpoch)}${q.weightBits}/${q.actBits}`, {
        at: at(q.startEpoch),
        label: `QAT ${q.weightBits}/${q.actBits}`,
      });
  }
  return [...marks.values()];
}

function curveCharts(runs: RunRecord[]): string[] {
  const xMarks = eventMarks(runs);
  const xRange: [number, number] = [
    0,
    runs.reduce((m, r) => Math.max(m, offsetOf(r) + (r.recipe?.epochs ?? r.metrics.length)), 1),
  ];
  const over = (pick: (m: RunRecord['metrics'][number]) => number | null, what: string, dashed = false) =>
    runs.map(
      (r, i): LineSeries => ({
        name: label(runs, r, what),
        color: runs.length > 1 ? colorOf(i) : colorOf(dashed ? 1 : 0),
        dashed,
        points: r.metrics.flatMap((m) => {
          const v = pick(m);
          return v === null ? [] : [[offsetOf(r) + m.epoch, v] as [number, number]];
        }),
      }),
    );
  const lr: LineSeries[] = runs.flatMap((r, i) => {
    const recorded: LineSeries = {
      name: label(runs, r, 'lr recorded (last step of the epoch)'),
      color: colorOf(runs.length > 1 ? i : 1),
      dots: true,
      points: r.metrics.map((m) => [offsetOf(r) + m.epoch, m.lr]),
    };
    return r.recipe
      ? [
          {
            name: label(runs, r, 'lr schedule'),
            color: colorOf(i),
            points: schedulePoints(r.recipe).map(([x, y]): [number, number] => [offsetOf(r) + x, y]),
          },
          recorded,
        ]
      : [recorded];
  });
  return [
    lineChart({
      id: 'loss',
      xRange,
      title: 'Loss',
      xLabel: 'epoch',
      xMarks,
      series: [...over((m) => m.testLoss, 'test loss'), ...over((m) => m.trainLoss, 'train loss', true)],
    }),
    lineChart({
      id: 'top1',
      xRange,
      title: 'Top-1 accuracy',
      xLabel: 'epoch',
      xMarks,
      yFormat: percent,
      yMarks: [{ at: publishedEntry.top1, label: `the entry: ${percent(publishedEntry.top1)}` }],
      series: [...over((m) => m.testTop1, 'test top-1'), ...over((m) => m.trainTop1, 'train top-1', true)],
    }),
    lineChart({ id: 'lr', xRange, title: 'Learning rate', xLabel: 'epoch', xMarks, zero: true, series: lr }),
    lineChart({
      id: 'sparsity',
      xRange,
      title: 'Sparsity of conv/linear weights',
      xLabel: 'epoch',
      xMarks,
      yFormat: percent,
      zero: true,
      series: over((m) => m.sparsity, 'sparsity'),
    }),
  ];
}

/** The recipe's learning rate at 20 points an epoch (the schedule is a pure function of the position). */
function schedulePoints(recipe: Recipe): [number, number][] {
  const n = 20;
  const pruneEpochs = recipe.pruning.events.map((p) => p.epoch);
  const points: [number, number][] = [];
  // A long run is drawn from every k-th epoch: the page stays the same size whatever the epochs.
  const stride = Math.ceil((recipe.epochs * n) / 4000);
  for (let epoch = 1; epoch <= recipe.epochs; epoch += stride) {
    for (let batch = 0; batch < n; batch++)
      points.push([
        epoch - 1 + (batch + 1) / n,
        learningRate(recipe.schedule, pruneEpochs, { epoch, batch, batchesPerEpoch: n }, recipe.quantization),
      ]);
  }
  return points;
}

const weightRows = (s: ScoreReport) => s.layers.filter((l) => l.weights > 0);

/** Layers per density chart: a long network's list is split into side-by-side halves, so that it uses the page's width. */
const densityRows = 40;

function densitySection(runs: RunRecord[]): string {
  const scored = runs.filter((r) => r.summary);
  if (!scored.length) return '<h2>Per-layer density</h2><p class="muted">Not available: see what is missing above.</p>';
  const layers = weightRows(scored[0]!.summary!.scores[0]!).map((l) => l.name);
  const kept = scored.map((r) => {
    const byName = new Map(weightRows(r.summary!.scores[0]!).map((l) => [l.name, l]));
    return layers.map((n) => {
      const l = byName.get(n);
      return l ? l.nonzero / l.weights : 0;
    });
  });
  const parts = layers.length > densityRows ? 2 : 1;
  const size = Math.ceil(layers.length / parts);
  const charts = Array.from({ length: parts }, (_, p) => {
    const [from, to] = [p * size, Math.min(layers.length, (p + 1) * size)];
    return barChart({
      id: parts === 1 ? 'density' : `density-${p + 1}`,
      title: `Weights kept per layer (non-zero / all)${parts === 1 ? '' : `, layers ${from + 1}-${to} of ${layers.length}`}`,
      categories: layers.slice(from, to),
      format: percent,
      max: 1,
      series: scored.map((r, i) => ({ name: r.name, color: colorOf(i), values: kept[i]!.slice(from, to) })),
    });
  });
  return `<h2>Per-layer density</h2><div class="charts">${charts.join('')}</div>`;
}

/** The top-level block a score row belongs to (`a3.b2.0` is in `a3`). */
const blockOf = (l: LayerScore) => l.name.split('.')[0]!;

/** A score report's blocks and each block's shares of the score: storage and operations. */
function blockShares(report: ScoreReport) {
  const blocks = [...new Set(report.layers.map(blockOf))];
  const sum = (b: string, f: (l: LayerScore) => number) =>
    report.layers.filter((l) => blockOf(l) === b).reduce((s, l) => s + f(l), 0);
  const storage = blocks.map((b) => sum(b, (l) => l.bits / 32 / reference.params));
  const ops = blocks.map((b) => sum(b, (l) => ruleSet(report.rules).layerOps(l) / reference.ops));
  return { blocks, storage, ops };
}

function scoreSection(runs: RunRecord[]): string {
  const scored = runs.filter((r) => r.summary);
  if (!scored.length) return '<h2>Score by block</h2><p class="muted">Not available: see what is missing above.</p>';
  const parts: string[] = [];
  // One scale per rule set across the runs: bars of different runs compare by their length.
  const largest = new Map<string, number>();
  for (const r of scored)
    for (const report of r.summary!.scores) {
      const { storage, ops } = blockShares(report);
      const top = Math.max(0, ...storage.map((v, i) => v + ops[i]!));
      largest.set(report.rules, Math.max(largest.get(report.rules) ?? 0, top));
    }
  for (const r of scored) {
    for (const report of r.summary!.scores) {
      const { blocks, storage, ops } = blockShares(report);
      const keep = blocks.map((_, i) => storage[i]! + ops[i]! > 0);
      const width = report.bitWidth === 'mixed' ? 'quantized' : `${report.bitWidth}-bit`;
      parts.push(
        barChart({
          id: `score-${report.rules}`,
          title: `${r.name}: score ${report.score.toFixed(4)} by block, ${report.rules} rules (${width})`,
          stacked: true,
          max: largest.get(report.rules) || 1,
          format: (v) => v.toFixed(4),
          categories: blocks.filter((_, i) => keep[i]),
          series: [
            {
              name: `storage (params / ${referenceLabels.params})`,
              color: colorOf(0),
              values: storage.filter((_, i) => keep[i]),
            },
            {
              name: `operations (${ruleSet(report.rules).opsName} / ${referenceLabels.ops})`,
              color: colorOf(1),
              values: ops.filter((_, i) => keep[i]),
            },
          ],
        }),
      );
    }
  }
  const tables = scored.flatMap((r) =>
    r.summary!.scores.map(
      (report) =>
        `<details><summary>${e(`${r.name}: every layer under the ${report.rules} rules`)}</summary>` +
        `<table data-table="score-${e(report.rules)}"><tr><th>layer</th><th>type</th><th>weights</th><th>non-zero</th><th>bits</th><th>mults</th><th>adds</th><th>score share</th></tr>` +
        report.layers
          .map(
            (l) =>
              `<tr><td>${e(l.name)}</td><td>${e(l.type)}</td>${[l.weights, l.nonzero, l.bits, l.mults, l.adds].map((v) => `<td class="num">${Math.round(v).toLocaleString('en-US')}</td>`).join('')}` +
              `<td class="num">${(l.bits / 32 / reference.params + ruleSet(report.rules).layerOps(l) / reference.ops).toFixed(6)}</td></tr>`,
          )
          .join('') +
        '</table></details>',
    ),
  );
  return (
    `<h2>Score by block</h2><p class="muted">Each bar is a block's share of the MicroNet score: its storage over WideResNet-28-10's ${referenceLabels.params} parameters plus its operations over its ${referenceLabels.ops}.</p>` +
    `<div class="charts">${parts.join('')}</div>${tables.join('')}`
  );
}

function recipeSection(runs: RunRecord[]): string {
  const withRecipe = runs.filter((r) => r.recipe);
  if (!withRecipe.length) return '<h2>Recipe</h2><p class="muted">Not available: see what is missing above.</p>';
  const flat = withRecipe.map((r) => new Map(flatten(r.recipe).map(([p, v]) => [p, JSON.stringify(v)])));
  const paths = [...new Set(flat.flatMap((m) => [...m.keys()]))];
  const rows = paths.map((p) => {
    const values = flat.map((m) => m.get(p) ?? '');
    const differs = new Set(values).size > 1;
    return `<tr${differs ? ' class="differs"' : ''}><th>${e(p)}</th>${values.map((v) => `<td>${e(v)}</td>`).join('')}</tr>`;
  });
  return `<h2>Recipe</h2><table data-table="recipe"><tr><th>field</th>${withRecipe.map((r) => `<th>${e(r.name)}</th>`).join('')}</tr>${rows.join('')}</table>`;
}
