// Timing helpers: repetitions after warm-up, medians, and a plain-text table.

export function timeSync(step: () => void, reps: number, warmup = 2): number[] {
  for (let i = 0; i < warmup; i++) step();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    step();
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return out;
}

/** Seconds of each of `reps` runs of an async step, after `warmup` runs. */
export async function timeAsync(step: () => Promise<void>, reps: number, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await step();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
