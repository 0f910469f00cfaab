// The main job: the smoke recipe end to end on generated data learns and prunes on schedule.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as T from '../src/torch/index.js';
import { findRecipe } from '../src/recipes/index.js';
import { loadModelCheckpoint } from '../src/checkpoint/model-file.js';
import { Loader, loadSplit } from '../src/data/index.js';
import { setIntegerSimulation } from '../src/quant/prepare.js';
import { scratchDir } from './support/scratch.js';
import { closeBrowser, openPage } from './support/browser.js';
import { readEventFile } from './support/tfevents.js';
import { WeightLayer } from '../src/nn/index.js';
import { metricTags, type EpochMetrics } from '../src/checkpoint/metrics.js';
import { cli } from './support/cli.js';

after(closeBrowser);

/** One smoke run, shared by the tests below. */
let smokeRun: { dir: string; out: string; stdout: string } | undefined;
function runSmoke(): { dir: string; out: string; stdout: string } {
  if (!smokeRun) {
    const dir = scratchDir();
    const empty = join(dir, 'no-cifar');
    mkdirSync(empty);
    const out = join(dir, 'run');
    const run = spawnSync(process.execPath, [cli, 'smoke', '--data', empty, '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    smokeRun = { dir, out, stdout: run.stdout };
  }
  return smokeRun;
}

test('micronet smoke: without CIFAR-100 it trains on generated data, learns, prunes on schedule and scores', () => {
  const { out, stdout } = runSmoke();
  const run = { stdout };
  assert.match(run.stdout, /CIFAR-100 is not in .*: the smoke recipe runs on a generated CIFAR-100-format set/);
  const top1 = Number(/final: test top-1 ([\d.]+)%/.exec(run.stdout)![1]);
  assert.ok(top1 > 20, `test top-1 ${top1}% (chance: 1%)`);
  assert.match(run.stdout, /MicroNet score \(official rules\): 0\.\d+ \(16-bit; /);
  assert.match(
    run.stdout,
    /MicroNet score \(id56 rules\): 0\.\d+ \(16-bit; .*; the entry: 0\.2057 \(16-bit; params 1,845,672, mult-adds 1,627,530,482\)/,
  );

  const history = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number; sparsity: number });
  const recipe = findRecipe('smoke');
  assert.equal(history.length, recipe.epochs);
  const firstPrune = Math.min(...recipe.pruning.events.map((e) => e.epoch));
  for (const h of history) {
    if (h.epoch < firstPrune) assert.equal(h.sparsity, 0, `epoch ${h.epoch} is before pruning`);
    else assert.ok(h.sparsity > 0.05, `epoch ${h.epoch}: sparsity ${h.sparsity}`);
  }
  // Sparsity only grows through the pruning events, then holds during fine-tuning.
  for (let i = 1; i < history.length; i++) assert.ok(history[i]!.sparsity >= history[i - 1]!.sparsity);
  const lastPrune = Math.max(...recipe.pruning.events.map((e) => e.epoch));
  assert.equal(history.at(-1)!.sparsity, history[lastPrune - 1]!.sparsity);
});

/** `micronet quantize` of the smoke run's best checkpoint, once per width. */
const quantized = new Map<number, { dir: string; stdout: string }>();
function quantizeSmoke(weightBits: number): { dir: string; stdout: string } {
  if (!quantized.has(weightBits)) {
    const { dir, out } = runSmoke();
    const qat = join(dir, `qat${weightBits}`);
    // The smoke model is still learning at its last rate, 0.01: QAT fine-tunes at that rate.
    const run = spawnSync(
      process.execPath,
      [
        cli,
        'quantize',
        '--checkpoint',
        join(out, 'best.safetensors'),
        '--data',
        join(out, 'generated-data'),
        '--out',
        qat,
        '--weight-bits',
        String(weightBits),
        '--act-bits',
        '8',
        '--epochs',
        '2',
        '--lr',
        '0.01',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    quantized.set(weightBits, { dir: qat, stdout: run.stdout });
  }
  return quantized.get(weightBits)!;
}

test('micronet quantize after the smoke run: masks kept, 8-bit within 0.5 point and 4-bit weights within 2 points of the float top-1; the integer checkpoint predicts what the fake-quantized model predicts', async () => {
  const { out } = runSmoke();
  const data = join(out, 'generated-data');
  const floatHistory = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { testTop1: number; sparsity: number });
  const floatSparsity = floatHistory.at(-1)!.sparsity;
  // best.safetensors holds the best epoch at the final sparsity (after the last pruning event).
  const finalStage = floatHistory.filter((h) => h.sparsity === floatSparsity);
  const floatTop1 = Math.max(...finalStage.map((h) => h.testTop1));
  assert.equal(finalStage.length, findRecipe('smoke').epochs - 5, 'epochs 6, 7 and 8 are at the final sparsity');

  for (const [weightBits, margin] of [
    [8, 0.005],
    [4, 0.02],
  ] as const) {
    const { dir: qat, stdout } = quantizeSmoke(weightBits);
    assert.match(stdout, /MicroNet score \(official rules\): 0\.\d+ \(quantized; /);
    const history = readFileSync(join(qat, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { testTop1: number; sparsity: number });
    for (const h of history)
      assert.equal(h.sparsity, floatSparsity, 'QAT keeps the pruned weights at zero and adds no zeros to the masks');
    const top1 = history.at(-1)!.testTop1;
    assert.ok(top1 >= floatTop1 - margin, `${weightBits}-bit weights: top-1 ${top1}, float ${floatTop1}`);

    // The deployable checkpoint: integer simulation and fake quantization agree on every prediction.
    const { model } = loadModelCheckpoint(join(qat, 'quantized.safetensors'));
    const labels: number[] = [];
    const logits = async (integer: boolean) => {
      setIntegerSimulation(model, integer);
      const rows: T.Tensor[] = [];
      labels.length = 0;
      for await (const b of new Loader({
        data: loadSplit(data, 'test'),
        pipeline: 'micronet-seed/test',
        batchSize: 256,
      }).epoch(0)) {
        rows.push(T.keep(T.noGrad(() => model.forward(b.x, false))));
        labels.push(...Array.from(b.y.data() as BigInt64Array, Number));
        b.x.dispose();
        b.y.dispose();
      }
      return T.cat(rows, 0);
    };
    const integer = await logits(true);
    const fake = await logits(false);
    assert.equal(
      T.tidy(() => integer.argmax(1).eq(fake.argmax(1)).sum().item()),
      integer.size(0),
      'the same prediction for every image',
    );
    const error = T.tidy(() => integer.sub(fake).abs().max().item() / fake.abs().max().item());
    assert.ok(error < 1e-2, `integer logits within 1% of the logits' scale of the fake-quantized ones (${error})`);
    const evaluated = spawnSync(
      process.execPath,
      [cli, 'eval', '--checkpoint', join(qat, 'quantized.safetensors'), '--data', data, '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const evalTop1 = (JSON.parse(evaluated.stdout) as { top1: number }).top1;
    const predicted = T.tidy(() => Array.from(integer.argmax(1).data() as BigInt64Array, Number));
    assert.equal(
      evalTop1,
      predicted.filter((p, i) => p === labels[i]).length / labels.length,
      'micronet eval scores the integer checkpoint as its integer simulation here predicts',
    );
    // QAT evaluated the fake-quantized model, whose logits are within 1% of these: a near tie may go the other way.
    assert.ok(Math.abs(evalTop1 - top1) <= 2 / labels.length, `eval ${evalTop1}, QAT reported ${top1}`);
    const scored = spawnSync(
      process.execPath,
      [cli, 'score', '--checkpoint', join(qat, 'quantized.safetensors'), '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(scored.status, 0, scored.stderr);
    const report = JSON.parse(scored.stdout) as {
      bitWidth: unknown;
      layers: { precision: { weight: number; mult: number; quantized?: boolean } }[];
    };
    assert.equal(report.bitWidth, 'mixed', 'bits read from the file');
    assert.ok(
      report.layers.some((l) => l.precision.quantized && l.precision.weight === weightBits && l.precision.mult === 8),
    );
    const freebie = spawnSync(
      process.execPath,
      [cli, 'score', '--checkpoint', join(qat, 'quantized.safetensors'), '--bits', '16'],
      { encoding: 'utf8' },
    );
    assert.equal(freebie.status, 2);
    assert.match(freebie.stderr, /freebie/);
    model.dispose();
  }
});

test('micronet report of the smoke run renders in headless Chromium, in light and dark, with its charts and figures, alone and beside its QAT run', async () => {
  const { out, stdout } = runSmoke();
  const run = spawnSync(process.execPath, [cli, 'report', out], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const file = join(out, 'report.html');
  assert.match(run.stdout, new RegExp(`report: ${file}`));
  const html = readFileSync(file, 'utf8');
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(|src=/i, 'nothing to run and nothing to fetch');

  const recipe = findRecipe('smoke');
  const history = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { testTop1: number });
  const colors: Record<string, { fg: string; bg: string }> = {};
  for (const scheme of ['light', 'dark'] as const) {
    const { page, requests } = await openPage(file, scheme);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the page loads nothing but itself');
    const charts = await page
      .locator('svg[data-chart]')
      .evaluateAll((svgs) => svgs.map((s) => s.getAttribute('data-chart')));
    // GoogLeNet's 65 conv/linear layers are listed in two density charts side by side.
    assert.deepEqual(charts, [
      'loss',
      'top1',
      'lr',
      'sparsity',
      'density-1',
      'density-2',
      'score-official',
      'score-id56',
    ]);
    // Train and test curves through every epoch, and a mark at each pruning event.
    const loss = page.locator('svg[data-chart="loss"]');
    const points = await loss
      .locator('polyline')
      .evaluateAll((ls) => ls.map((l) => l.getAttribute('points')!.split(' ').length));
    assert.deepEqual(points, [recipe.epochs, recipe.epochs]);
    assert.equal(await loss.locator('.mark-label', { hasText: /^prune / }).count(), recipe.pruning.events.length);
    // One density bar per conv/linear layer of the network.
    const { model } = loadModelCheckpoint(join(out, 'last.safetensors'));
    assert.equal(
      await page.locator('svg[data-chart^="density-"] rect.bar').count(),
      model.namedModules().filter(([, m]) => m instanceof WeightLayer).length,
    );
    model.dispose();
    // The summary leads with the figures the end of the run printed, beside the published entry's.
    const summary = await page.locator('table[data-table="summary"]').innerText();
    assert.ok(summary.includes(`${(100 * history.at(-1)!.testTop1).toFixed(2)}%`), summary);
    for (const figure of [/MicroNet score \(official rules\): ([\d.]+)/, /MicroNet score \(id56 rules\): ([\d.]+)/]) {
      assert.ok(summary.includes(figure.exec(stdout)![1]!), `${figure.source} in the summary`);
    }
    for (const published of ['80.18%', '1,845,672', '1,627,530,482', '0.2057'])
      assert.ok(summary.includes(published), published);
    assert.match(await page.locator('table[data-table="recipe"]').innerText(), /pruning\.q\s+0\.25/);
    colors[scheme] = await page.evaluate(() => {
      const chartText = getComputedStyle(document.querySelector('svg[data-chart="loss"] text')!);
      return { fg: chartText.fill, bg: getComputedStyle(document.body).backgroundColor };
    });
    assert.ok(
      contrast(colors[scheme]!.fg, colors[scheme]!.bg) >= 7,
      `${scheme}: chart text ${colors[scheme]!.fg} on ${colors[scheme]!.bg}`,
    );
    const shot = join(out, `report-${scheme}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    assert.deepEqual([...readFileSync(shot).subarray(1, 4)], [...Buffer.from('PNG')]);
    await page.close();
  }
  assert.notEqual(colors.light!.bg, colors.dark!.bg, 'the dark theme is its own');

  // A float run and its 8-bit QAT run, overlaid.
  const qat = quantizeSmoke(8).dir;
  const both = join(out, 'both.html');
  const overlay = spawnSync(process.execPath, [cli, 'report', out, qat, '--out', both], { encoding: 'utf8' });
  assert.equal(overlay.status, 0, overlay.stderr);
  const { page } = await openPage(both, 'light');
  const names = [out, qat].map((d) => basename(d));
  const series = await page
    .locator('svg[data-chart="top1"] polyline')
    .evaluateAll((ls) => ls.map((l) => l.getAttribute('data-series')));
  assert.deepEqual(series, names.flatMap((n) => [`${n} test top-1`]).concat(names.map((n) => `${n} train top-1`)));
  assert.match(
    await page.locator('table[data-table="summary"]').innerText(),
    /MicroNet score \(official rules\)\t[\d.]+ \(16-bit; .*\t[\d.]+ \(quantized; /,
  );
  assert.match(await page.locator(`[data-status="${names[1]}"]`).innerText(), /integer checkpoint written/);
  await page.close();
});

test("the smoke run's TensorBoard scalars, read by an independent reader, are its metrics.jsonl", () => {
  const { out } = runSmoke();
  const events = readdirSync(out)
    .filter((f) => f.startsWith('events.out.tfevents.'))
    .flatMap((f) => readEventFile(join(out, f)));
  const history = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);
  for (const m of history) {
    const logged = events.find((e) => e.scalars?.get(metricTags.epoch) === m.epoch)!;
    for (const [key, tag] of Object.entries(metricTags))
      assert.equal(logged.scalars!.get(tag), Math.fround(m[key as keyof EpochMetrics]), `${tag}, epoch ${m.epoch}`);
  }
});

/** WCAG contrast ratio of two CSS rgb() colours. */
function contrast(a: string, b: string): number {
  const luminance = (c: string) => {
    const [r, g, bl] = c
      .match(/\d+(\.\d+)?/g)!
      .slice(0, 3)
      .map((v) => {
        const s = Number(v) / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
