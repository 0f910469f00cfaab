// The runs a report overlays in the tests and in the screenshots (scripts/report-screenshots.mjs):
// a float run, a QAT run that continues it, and a run of a second recipe, all tiny; and the check
// that no two of a page's SVG labels overlap.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { generatedSplit, type DataSource, type Split } from '../../src/data/index.js';
import { applyOverrides, findRecipe, validateRecipe, type Recipe } from '../../src/recipes/index.js';
import { train } from '../../src/train/trainer.js';
import { tinySmoke } from './generated.js';

/** 160 generated training images (5 batches of 32) and 32 test images. */
export const reportData = (): { train: Split; test: Split } => ({
  train: generatedSplit(160, 1, 'train'),
  test: generatedSplit(32, 1, 'test'),
});

/** What the runs trained on is recorded as it would be for a generated set on disk. */
export const inMemory: DataSource = { dir: 'memory', generated: true };

/** A second recipe: AdamW, everything pruned at epoch 2 (its marks fall where the smoke run's do). */
export const secondRecipe = applyOverrides(tinySmoke, [
  'name=smoke-adamw',
  'optimizer.name=adamw',
  'schedule.lr=0.002',
  'pruning.events=[{"epoch":2,"layers":"all"}]',
]);

/** One epoch of 8-bit QAT from the best checkpoint of the tiny smoke run in `parent`. */
export function qatRecipeOf(parent: string): Recipe {
  const base = findRecipe('qat');
  return validateRecipe({
    ...base,
    model: tinySmoke.model,
    data: tinySmoke.data,
    initialWeights: join(parent, 'best.safetensors'),
    epochs: 1,
    quantization: { ...base.quantization!, milestones: [], freezeEpoch: null },
  });
}

/** Trains `recipe` into `outDir` on the report's data. */
export async function trainTiny(recipe: Recipe, outDir: string, data = reportData()): Promise<string> {
  (await train(recipe, { dataDir: '', outDir, data, dataSource: inMemory })).model.dispose();
  return outDir;
}

/** Pairs of SVG text labels of the page whose boxes overlap (by more than half a pixel each way), in words. */
export async function labelOverlaps(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const labels = [...document.querySelectorAll('svg text')]
      .map((t) => ({ text: t.textContent ?? '', r: t.getBoundingClientRect() }))
      .filter((l) => l.r.width > 0 && l.r.height > 0);
    const out: string[] = [];
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) {
        const [a, b] = [labels[i]!.r, labels[j]!.r];
        const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (x > 0.5 && y > 0.5) out.push(`"${labels[i]!.text}" and "${labels[j]!.text}"`);
      }
    return out;
  });
}
