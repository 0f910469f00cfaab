// Human-readable score reports: a per-layer table and the totals.
import { bitsLabel, type LayerPrecision } from './precision.js';
import { referenceLabels, top1Bar, type ScoreReport } from './report.js';
import { ruleSet } from './rules.js';

const int = (n: number) =>
  Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** `w8 a8` for a layer counted at its own quantization, else its one width; blank where no width applies. */
function precisionLabel(p: LayerPrecision | undefined): string {
  if (!p) return '';
  if (p.quantized) return bitsLabel(p.quantized);
  return String(p.mult ?? p.weight ?? '');
}

/** The report as a per-layer table, its totals, the score and the notes. */
export function formatReport(r: ScoreReport, accuracy?: number): string {
  const header = ['layer', 'type', 'shape', 'weights', 'non-zero', 'density', 'precision', 'bits', 'mults', 'adds'];
  const rows = r.layers.map((l) => [
    l.name,
    l.type,
    l.shape.join('x'),
    l.weights ? int(l.weights) : '',
    l.weights ? int(l.nonzero) : '',
    l.weights ? `${((100 * l.nonzero) / l.weights).toFixed(1)}%` : '',
    precisionLabel(l.precision),
    int(l.bits),
    int(l.mults),
    int(l.adds),
  ]);
  const weights = r.layers.reduce((s, l) => s + l.weights, 0);
  const nonzero = r.layers.reduce((s, l) => s + l.nonzero, 0);
  rows.push([
    'total',
    '',
    '',
    int(weights),
    int(nonzero),
    `${((100 * nonzero) / weights).toFixed(1)}%`,
    String(r.bitWidth),
    int(r.bits),
    int(r.mults),
    int(r.adds),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.slice(0, -1).map(line),
    line(widths.map((w) => '-'.repeat(w))),
    line(rows.at(-1)!),
  ];
  const mixed = r.bitWidth === 'mixed';
  out.push(
    '',
    `rules: ${r.rules}, ${mixed ? 'each layer at its own bits (precision column; bias int32), other values 32-bit' : r.bitWidth === 16 ? '16-bit freebie parameters' : `${r.bitWidth}-bit parameters`}`,
  );
  out.push(`params: ${int(r.params)} (${int(r.bits)} bits / 32)`);
  out.push(`ops: ${int(r.ops)} (${ruleSet(r.rules).opsFormula(r.bitWidth)})`);
  out.push(`score: ${r.score} = ${int(r.params)} / ${referenceLabels.params} + ${int(r.ops)} / ${referenceLabels.ops}`);
  if (accuracy !== undefined)
    out.push(
      `accuracy: ${accuracy}% top-1: ${accuracy >= 100 * top1Bar ? 'meets' : 'does NOT meet'} the ${100 * top1Bar}% threshold`,
    );
  for (const note of r.notes) out.push(`note: ${note}`);
  return out.join('\n');
}
