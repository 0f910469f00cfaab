// Small SVG charts drawn on the server: line charts over epochs and horizontal bar charts. Colours
// of text, axes and grid come from the page's CSS variables, so that a chart follows the page's
// light or dark theme; series colours are mid-tones that read on both.
const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text made safe for HTML and SVG. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => escapeMap[c]!);

/** Series colours, in order of use. */
export const palette = ['#3b82f6', '#f97316', '#10b981', '#e11d48', '#a855f7', '#eab308', '#06b6d4', '#84cc16'];

/** A value formatter for axes and labels. */
type Format = (v: number) => string;
export const percent: Format = (v) => `${+(100 * v).toFixed(2)}%`;
export const plain: Format = (v) =>
  Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(+v.toPrecision(4));

/** About `count` round values spanning [lo, hi]. */
/** [min, max] of any number of values (spreading a long array into Math.min overflows the stack). */
function extent(values: readonly number[]): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

const f = (v: number) => +v.toFixed(1);

/** A line of a line chart. */
export interface LineSeries {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
  /** Draw the points as dots instead of a line. */
  dots?: boolean;
}

/** A vertical mark at an x (e.g. a pruning event) or a horizontal one at a y (e.g. a target). */
export interface Mark {
  at: number;
  label: string;
}

interface LineChartOptions {
  /** Identifies the chart in the page (data-chart). */
  id: string;
  title: string;
  xLabel: string;
  series: LineSeries[];
  xMarks?: Mark[];
  yMarks?: Mark[];
  yFormat?: Format;
  /** Start the y axis at zero. */
  zero?: boolean;
  /** The x range to show at least (e.g. all the epochs of a run still in progress). */
  xRange?: [number, number];
}

/** A generous estimate of a label's width in user units (system-ui averages about 0.55 em a character). */
const textWidth = (text: string, size = 12) => text.length * size * 0.62;
/** Height of a legend row. */
const legendRow = 18;

interface LegendItem {
  name: string;
  color: string;
  dashed?: boolean;
}

/** Legend entries flowed left to right, wrapping before the chart's edge, each as wide as its own label. */
function legendLayout(items: readonly LegendItem[], width: number): { x: number; row: number }[] {
  let [x, row] = [16, 0];
  return items.map((s) => {
    const w = 24 + textWidth(s.name) + 18;
    if (x > 16 && x + w > width - 8) [x, row] = [16, row + 1];
    const at = { x, row };
    x += w;
    return at;
  });
}

const legendRows = (items: readonly LegendItem[], width: number) =>
  items.length ? Math.max(...legendLayout(items, width).map((p) => p.row)) + 1 : 0;

/** The SVG around a chart's body: its title, and its legend in rows from `legendTop`. */
function frame(
  id: string,
  title: string,
  width: number,
  height: number,
  body: string[],
  legend: readonly LegendItem[],
  legendTop = height,
): string {
  const layout = legendLayout(legend, width);
  const items = legend.map((s, i) => {
    const { x, row } = layout[i]!;
    const y = legendTop + row * legendRow + 12;
    return (
      `<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>` +
      `<text x="${x + 24}" y="${y}" class="legend">${escapeHtml(s.name)}</text>`
    );
  });
  // Scaled by the page (viewBox): the chart fills its grid cell, whatever the cell's width.
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${id}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<title>${escapeHtml(title)}</title><text x="10" y="20" class="title">${escapeHtml(title)}</text>${body.join('')}${items.join('')}</svg>`
  );
}

/** A box taken by a label: left, top, right, bottom. */
type Box = [number, number, number, number];
const overlaps = (a: Box, b: Box) => a[0] < b[2] + 4 && b[0] < a[2] + 4 && a[1] < b[3] && b[1] < a[3];

/**
 * The vertical marks' labels, each beside its line in the first row down from the top where it
 * meets no label already placed (two runs' events at the same epoch stack instead of overprinting);
 * a label that would pass the right edge goes on the line's left.
 */
function markLabels(
  marks: readonly { x: number; label: string }[],
  top: number,
  right: number,
  taken: Box[],
): string[] {
  return [...marks]
    .sort((a, b) => a.x - b.x)
    .map((m) => {
      const w = textWidth(m.label, 11);
      const end = m.x + 3 + w > right;
      const x0 = end ? m.x - 3 - w : m.x + 3;
      let row = 0;
      const box = (r: number): Box => [x0, top + r * 13, x0 + w, top + r * 13 + 13];
      while (taken.some((b) => overlaps(b, box(row)))) row++;
      taken.push(box(row));
      return `<text class="mark-label" x="${f(end ? m.x - 3 : m.x + 3)}" y="${top + row * 13 + 10}"${end ? ' text-anchor="end"' : ''}>${escapeHtml(m.label)}</text>`;
    });
}

/** Points of a series that get a hover label each: beyond this many (a sampled schedule), none do. */
const maxHoverPoints = 400;

/** A line chart: x along the bottom, the series (each point's value on hover), marks, axes and a legend. */
export function lineChart(o: LineChartOptions): string {
  const width = 720;
  const [left, right, top, plotBottom] = [70, 20, 34, 274];
  const points = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const format = o.yFormat ?? plain;
  if (!points.length) {
    return frame(
      o.id,
      o.title,
      width,
      120,
      [`<text x="${width / 2}" y="70" class="empty" text-anchor="middle">no data yet</text>`],
      [],
    );
  }
  const xs = points
    .map(([x]) => x)
    .concat(
      (o.xMarks ?? []).map((m) => m.at),
      o.xRange ?? [],
    );
  const ys = points.map(([, y]) => y).concat((o.yMarks ?? []).map((m) => m.at));
  let [x0, x1] = extent(xs);
  let [y0, y1] = extent(o.zero ? [0, ...ys] : ys);
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = y0 === 0 ? [0, 1] : [y0 - Math.abs(y0) * 0.1, y1 + Math.abs(y1) * 0.1];
  const yTicks = niceTicks(y0, y1);
  [y0, y1] = [Math.min(y0, yTicks[0]!), Math.max(y1, yTicks.at(-1)!)];
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const py = (y: number) => plotBottom - ((y - y0) / (y1 - y0)) * (plotBottom - top);
  const body: string[] = [];
  for (const t of yTicks)
    body.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${f(py(t))}" y2="${f(py(t))}"/><text x="${left - 6}" y="${f(py(t)) + 4}" text-anchor="end">${escapeHtml(format(t))}</text>`,
    );
  for (const t of niceTicks(x0, x1, 8).filter((t) => Number.isInteger(t)))
    body.push(`<text x="${f(px(t))}" y="${plotBottom + 16}" text-anchor="middle">${t}</text>`);
  body.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  body.push(
    `<text x="${(left + width - right) / 2}" y="${plotBottom + 34}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`,
  );
  const taken: Box[] = [[10, 6, 10 + textWidth(o.title, 14), 26]]; // the title
  for (const m of o.yMarks ?? []) {
    const [x, y] = [width - right - 3, f(py(m.at)) - 4];
    taken.push([x - textWidth(m.label, 11), y - 10, x, y + 3]);
    body.push(
      `<line class="mark" x1="${left}" x2="${width - right}" y1="${f(py(m.at))}" y2="${f(py(m.at))}"/>` +
        `<text class="mark-label" x="${x}" y="${y}" text-anchor="end">${escapeHtml(m.label)}</text>`,
    );
  }
  for (const m of o.xMarks ?? [])
    body.push(`<line class="mark" x1="${f(px(m.at))}" x2="${f(px(m.at))}" y1="${top}" y2="${plotBottom}"/>`);
  body.push(
    ...markLabels(
      (o.xMarks ?? []).map((m) => ({ x: px(m.at), label: m.label })),
      top,
      width - 4,
      taken,
    ),
  );
  for (const s of o.series)
    body.push(seriesSvg(s, px, py, (x, y) => `${s.name}, ${o.xLabel} ${plain(x)}: ${format(y)}`));
  const legendTop = plotBottom + 44;
  return frame(
    o.id,
    o.title,
    width,
    legendTop + legendRows(o.series, width) * legendRow + 8,
    body,
    o.series,
    legendTop,
  );
}

/** One series: a polyline (or dots), and a hover label on each of its points. */
function seriesSvg(
  s: LineSeries,
  px: (x: number) => number,
  py: (y: number) => number,
  hover: (x: number, y: number) => string,
): string {
  const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const dot = ([x, y]: [number, number], r: number, label: boolean) =>
    `<circle cx="${f(px(x))}" cy="${f(py(y))}" r="${r}">${label ? `<title>${escapeHtml(hover(x, y))}</title>` : ''}</circle>`;
  const labelled = pts.length <= maxHoverPoints;
  if (s.dots || pts.length === 1)
    return `<g class="series" data-series="${escapeHtml(s.name)}"${labelled ? ` data-hover="${escapeHtml(s.name)}"` : ''} fill="${s.color}">${pts.map((p) => dot(p, 2.5, labelled)).join('')}</g>`;
  const line =
    `<polyline class="series" data-series="${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} ` +
    `points="${pts.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`;
  // Small dots that carry the values: the browser shows a point's title under the pointer.
  return labelled
    ? `${line}<g class="hover" data-hover="${escapeHtml(s.name)}" fill="${s.color}">${pts.map((p) => dot(p, 3, true)).join('')}</g>`
    : line;
}

interface BarChartOptions {
  id: string;
  title: string;
  /** One row per category, top to bottom. */
  categories: string[];
  /** Bars per category: side by side, or stacked into one. */
  series: { name: string; color: string; values: number[] }[];
  stacked?: boolean;
  format?: Format;
  /** Upper end of the axis (default: the largest bar). */
  max?: number;
}

/** A horizontal bar chart: a row per category, its label on the left, its value at the bar's end (side-by-side bars: in their tooltips). */
export function barChart(o: BarChartOptions): string {
  const width = 720;
  const labelWidth = Math.min(220, 12 + 7 * Math.max(4, ...o.categories.map((c) => c.length)));
  // A row is taller than its label's box: category labels never touch.
  const rowHeight = o.stacked || o.series.length === 1 ? 18 : 8 * o.series.length + 6;
  const legend = o.series.length > 1 ? o.series : [];
  const top = 34,
    right = 80;
  const legendTop = top + rowHeight * o.categories.length + 4 + 26;
  const height = legendTop + legendRows(legend, width) * legendRow + 8;
  const totals = o.categories.map((_, i) =>
    o.stacked
      ? o.series.reduce((s, r) => s + (r.values[i] ?? 0), 0)
      : Math.max(...o.series.map((r) => r.values[i] ?? 0)),
  );
  const max = o.max ?? (extent([0, ...totals])[1] || 1);
  const format = o.format ?? plain;
  const px = (v: number) => (v / max) * (width - labelWidth - right);
  const body: string[] = [];
  const barHeight = o.stacked || o.series.length === 1 ? 13 : 7;
  o.categories.forEach((c, i) => {
    const y = top + i * rowHeight;
    body.push(`<text x="${labelWidth - 6}" y="${y + rowHeight / 2 + 4}" text-anchor="end">${escapeHtml(c)}</text>`);
    let x = labelWidth;
    o.series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      const by = o.stacked || o.series.length === 1 ? y + 2 : y + 3 + j * 8;
      body.push(
        `<rect class="bar" data-series="${escapeHtml(s.name)}" x="${f(x)}" y="${by}" width="${f(px(v))}" height="${barHeight}" fill="${s.color}"><title>${escapeHtml(`${c}, ${s.name}: ${format(v)}`)}</title></rect>`,
      );
      if (o.stacked) x += px(v);
    });
    if (o.stacked || o.series.length === 1)
      body.push(
        `<text class="value" x="${f(labelWidth + px(totals[i]!)) + 4}" y="${y + rowHeight / 2 + 4}">${escapeHtml(format(totals[i]!))}</text>`,
      );
  });
  const axisY = top + rowHeight * o.categories.length + 4;
  body.push(`<line class="axis" x1="${labelWidth}" x2="${width - right}" y1="${axisY}" y2="${axisY}"/>`);
  for (const t of niceTicks(0, max, 5))
    body.push(
      `<text x="${f(labelWidth + px(t))}" y="${axisY + 16}" text-anchor="middle">${escapeHtml(format(t))}</text>`,
    );
  return frame(o.id, o.title, width, height, body, legend, legendTop);
}
