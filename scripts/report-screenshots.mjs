// Saves the report of three tiny runs (a float smoke run, its QAT run, an AdamW recipe's run) as
// docs/report-light.png and docs/report-dark.png, 1280 px wide: the runs the report test checks
// for overlapping labels (test/support/report-runs.ts). Run after `npm run build`:
// node scripts/report-screenshots.mjs
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readRun, renderReport } from '../dist/src/report/index.js';
import { closeBrowser, openPage } from '../dist/test/support/browser.js';
import { tinySmoke } from '../dist/test/support/generated.js';
import { labelOverlaps, qatRecipeOf, secondRecipe, trainTiny } from '../dist/test/support/report-runs.js';

const docs = resolve('docs');
const root = mkdtempSync(join(tmpdir(), 'micronet-screenshots-'));
// Run directories named relative to the scratch directory: the page shows no machine's paths.
process.chdir(root);
try {
  await trainTiny(tinySmoke, 'smoke');
  await trainTiny(qatRecipeOf('smoke'), 'smoke-qat');
  await trainTiny(secondRecipe, 'smoke-adamw');
  const file = join(root, 'report.html');
  writeFileSync(file, renderReport(['smoke', 'smoke-qat', 'smoke-adamw'].map((d) => readRun(d))));
  for (const scheme of ['light', 'dark']) {
    const { page } = await openPage(file, scheme, 1280);
    const overlaps = await labelOverlaps(page);
    if (overlaps.length) throw new Error(`${scheme}: labels overlap: ${overlaps.join('; ')}`);
    const shot = join(docs, `report-${scheme}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    await page.close();
    console.log(`wrote ${shot}`);
  }
} finally {
  await closeBrowser();
  process.chdir(docs);
  rmSync(root, { recursive: true, force: true });
}
