// Seeing a run: TensorBoard event files read back by independent readers, and the report of runs
// in progress, damaged or unreadable, rendered in headless Chromium.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labelOverlaps, qatRecipeOf, reportData, secondRecipe, trainTiny } from './support/report-runs.js';
import { train } from '../src/train/trainer.js';
import { metricTags, parseMetricsLine, stepTags, type EpochMetrics } from '../src/checkpoint/metrics.js';
import { EventFileWriter, readRun, renderReport, type RunRecord } from '../src/report/index.js';
import { scratchDir } from './support/scratch.js';
import { tinySmoke } from './support/generated.js';
import { crc32cBitwise, decodeSessionStart, readEventFile, type ReadEvent } from './support/tfevents.js';
import { readTrainState } from '../src/checkpoint/train-file.js';
import { hparamsTag } from '../src/io/tensorboard.js';
import { closeBrowser, openPage } from './support/browser.js';
import { cli } from './support/cli.js';

after(closeBrowser);

const tensorboardReader = fileURLToPath(new URL('../../test/support/tensorboard_read.py', import.meta.url));
const python = process.env.MICRONET_TENSORBOARD_PYTHON ?? 'python3';
const hasTensorBoard = spawnSync(python, ['-c', 'import tensorboard'], { encoding: 'utf8' }).status === 0;

const recipe = tinySmoke;
const batches = 5; // 160 images in batches of 32
const data = reportData();

const readMetrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => parseMetricsLine(l)!);
const eventFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('events.out.tfevents.'))
    .sort()
    .map((f) => join(dir, f));

/** A run stopped at epoch 2, batch 1 and resumed to its end, shared by the tests below. */
let resumed: string | undefined;
async function resumedRun(): Promise<string> {
  if (!resumed) {
    const outDir = scratchDir();
    let steps = 0;
    // Asked after every step and after every epoch: the 7th question comes after epoch 2's first step.
    (await train(recipe, { dataDir: '', outDir, data, shouldStop: () => ++steps === batches + 2 })).model.dispose();
    (await train(recipe, { dataDir: '', outDir, data, resume: true })).model.dispose();
    resumed = outDir;
  }
  return resumed;
}

test('event files are TFRecords of Event protobufs with masked CRC32C checksums, as an independent reader reads them', () => {
  assert.equal(
    crc32cBitwise(new TextEncoder().encode('123456789')),
    0xe3069283,
    "the reader's CRC-32C gives the standard check value",
  );
  const dir = scratchDir();
  const writer = new EventFileWriter(dir);
  writer.scalars(1, { 'loss/train': 0.5, lr: 1 / 3 }, 1000.25);
  writer.start(2, 1001);
  writer.scalars(2, { 'loss/train': -2, missing: null }, 1002);
  assert.equal(existsSync(writer.path), false, 'nothing is written before a flush');
  writer.flush();

  const events = readEventFile(writer.path);
  assert.equal(events.length, 4);
  assert.equal(events[0]!.fileVersion, 'brain.Event:2');
  assert.deepEqual(events[1], {
    wallTime: 1000.25,
    step: 1,
    scalars: new Map([
      ['loss/train', 0.5],
      ['lr', Math.fround(1 / 3)],
    ]),
  });
  assert.deepEqual(events[2], { wallTime: 1001, step: 2, sessionStatus: 1 }, 'a SessionLog START');
  assert.deepEqual(events[3]!.scalars, new Map([['loss/train', -2]]), 'non-numbers are left out');

  const damaged = join(dir, 'damaged.tfevents');
  const bytes = readFileSync(writer.path);
  bytes[bytes.length - 6]! ^= 1;
  writeFileSync(damaged, bytes);
  assert.throws(() => readEventFile(damaged), /bad data checksum/);

  // Two writers of one process in the same second (a run and its resumption) write two files, named in order.
  const [first, second] = [new EventFileWriter(dir, 30, 5000.5), new EventFileWriter(dir, 30, 5000.7)];
  assert.notEqual(first.path, second.path);
  assert.ok(first.path < second.path, `${first.path} sorts before ${second.path}`);
});

test("train logs every epoch's metrics.jsonl figures and every step once, across an interruption, as TensorBoard files", async () => {
  const dir = await resumedRun();
  const files = eventFiles(dir);
  assert.equal(files.length, 2, 'one event file per process');
  const [first, second] = files.map(readEventFile) as [ReadEvent[], ReadEvent[]];
  assert.equal(first[0]!.fileVersion, 'brain.Event:2');
  // The resumed process restarts at the step after the saved position (epoch 2, batch 1): TensorBoard drops anything logged after it.
  assert.deepEqual(
    second.filter((e) => e.sessionStatus !== undefined).map((e) => [e.step, e.sessionStatus]),
    [[batches + 2, 1]],
  );

  const events = [...first, ...second].filter((e) => e.scalars);
  const stepped = events.filter((e) => e.scalars!.has(stepTags.loss)).map((e) => e.step);
  assert.deepEqual(
    stepped,
    Array.from({ length: 3 * batches }, (_, i) => i + 1),
    'each of the 15 steps logged once',
  );
  const metrics = readMetrics(dir);
  assert.equal(metrics.length, 3);
  for (const m of metrics) {
    const logged = events.filter((e) => e.scalars!.get(metricTags.epoch) === m.epoch);
    assert.equal(logged.length, 1, `epoch ${m.epoch} logged once`);
    assert.equal(logged[0]!.step, m.epoch * batches, "at the epoch's last step");
    for (const [key, tag] of Object.entries(metricTags))
      assert.equal(
        logged[0]!.scalars!.get(tag),
        Math.fround(m[key as keyof EpochMetrics]),
        `${tag} of epoch ${m.epoch}`,
      );
  }
});

test("TensorBoard's own event reader gives the same scalars as metrics.jsonl", {
  skip: hasTensorBoard ? false : `${python} has no tensorboard package`,
}, async () => {
  const dir = await resumedRun();
  const run = spawnSync(python, [tensorboardReader, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const scalars = JSON.parse(run.stdout) as Record<string, [number, number][]>;
  const metrics = readMetrics(dir);
  for (const [key, tag] of Object.entries(metricTags)) {
    assert.deepEqual(
      scalars[tag],
      metrics.map((m) => [m.epoch * batches, Math.fround(m[key as keyof EpochMetrics])]),
      tag,
    );
  }
  assert.deepEqual(
    scalars[stepTags.lr]!.map(([step]) => step),
    Array.from({ length: 3 * batches }, (_, i) => i + 1),
  );
});

/** A one-epoch QAT run from the resumed run's best checkpoint (a child of that run), shared by the tests below. */
let qat: string | undefined;
async function qatRun(): Promise<string> {
  if (!qat) {
    qat = await trainTiny(qatRecipeOf(await resumedRun()), join(scratchDir(), 'qat'));
  }
  return qat;
}

test("TensorBoard gets the recipe as hparams, per-layer sparsity, and a QAT run continues its parent's steps", async () => {
  const parent = await resumedRun();
  const [first, second] = eventFiles(parent).map(readEventFile) as [ReadEvent[], ReadEvent[]];
  const hp = first.filter((e) => e.plugins?.has(hparamsTag));
  assert.equal(hp.length, 1, 'the recipe logged once, when the run starts');
  assert.equal(second.filter((e) => e.plugins).length, 0, 'not again on resumption');
  const { plugin, content } = hp[0]!.plugins!.get(hparamsTag)!;
  assert.equal(plugin, 'hparams');
  const start = decodeSessionStart(content);
  assert.equal(start.version, 0);
  assert.equal(hp[0]!.step, 0);
  assert.equal(start.hparams.name, 'smoke');
  assert.equal(start.hparams.epochs, 3);
  assert.equal(start.hparams['model.config.width'], 0.0625);
  assert.equal(start.hparams.channelsLast, false);
  assert.equal(start.hparams['pruning.events'], JSON.stringify(recipe.pruning.events));

  // Per-layer sparsity beside the epoch's metrics: conv layers pruned from epoch 2, the classifier at epoch 3.
  const atEpoch = (events: ReadEvent[], n: number) =>
    events.find((e) => e.scalars?.get(metricTags.epoch) === n)!.scalars!;
  const all = [...first, ...second];
  const layers = [...atEpoch(all, 1).keys()].filter((t) => t.startsWith('sparsity/'));
  assert.ok(layers.length > 3 && layers.includes('sparsity/linear'), layers.join(', '));
  assert.ok(
    layers.every((t) => atEpoch(all, 1).get(t) === 0),
    'nothing pruned in epoch 1',
  );
  assert.equal(atEpoch(all, 2).get('sparsity/linear'), 0);
  assert.ok(
    layers.some((t) => atEpoch(all, 2).get(t)! > 0),
    'conv layers pruned at epoch 2',
  );
  assert.ok(atEpoch(all, 3).get('sparsity/linear')! > 0, 'the classifier pruned at epoch 3');

  // The QAT run starts after its parent's last step (3 epochs of 5) instead of at 0.
  const child = await qatRun();
  const events = eventFiles(child).flatMap(readEventFile);
  assert.equal(readTrainState(join(child, 'last.safetensors')).stepOffset, 3 * batches);
  assert.equal(events.find((e) => e.plugins?.has(hparamsTag))!.step, 3 * batches);
  assert.deepEqual(
    events.filter((e) => e.scalars?.has(stepTags.loss)).map((e) => e.step),
    Array.from({ length: batches }, (_, i) => 3 * batches + i + 1),
  );
  assert.equal(events.find((e) => e.scalars?.get(metricTags.epoch) === 1)!.step, 4 * batches, "epoch 1's figures");

  if (!hasTensorBoard) return;
  // TensorBoard's hparams plugin reads the same hyperparameters with its own protobuf classes.
  const read = spawnSync(python, [tensorboardReader, parent, 'hparams'], { encoding: 'utf8' });
  assert.equal(read.status, 0, read.stderr);
  const theirs = JSON.parse(read.stdout) as { tags: string[]; hparams: Record<string, unknown> };
  assert.deepEqual(theirs.tags, [hparamsTag]);
  assert.deepEqual(theirs.hparams, start.hparams);
});

test('the report of a run in progress renders what there is and says what is still missing', async () => {
  const outDir = scratchDir();
  let during: RunRecord | undefined;
  (
    await train(recipe, {
      dataDir: '',
      outDir,
      data,
      events: {
        epoch: (m) => {
          if (m.epoch === 1) during = readRun(outDir);
        },
      },
    })
  ).model.dispose();
  assert.match(during!.status, /^in progress: 1 epoch of 3 done \(process \d+ on /);
  assert.deepEqual(during!.problems, ['epochs 2 to 3 have not finished']);
  assert.equal(during!.metrics.length, 1);
  assert.equal(during!.summary!.epoch, 1);

  const file = join(outDir, 'during.html');
  writeFileSync(file, renderReport([during!]));
  const { page } = await openPage(file, 'light');
  assert.match(await page.locator('[data-status]').innerText(), /in progress: 1 epoch of 3 done/);
  assert.match(await page.locator('[data-problems]').innerText(), /epochs 2 to 3 have not finished/);
  // Loss, top-1, lr, sparsity, per-layer density in two halves, the score under both rule sets.
  assert.equal(await page.locator('svg[data-chart]').count(), 8);
  await page.close();

  const done = readRun(outDir);
  assert.equal(done.status, 'complete: 3 epochs');
  assert.deepEqual(done.problems, []);
});

test('a damaged metrics line, then an unreadable checkpoint: the report still renders and names what is missing', async () => {
  const source = await resumedRun();
  const dir = scratchDir();
  for (const f of ['last.safetensors', 'metrics.jsonl']) copyFileSync(join(source, f), join(dir, f));
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
  lines[1] = lines[1]!.slice(0, 25); // a line cut short
  writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n'));

  const damaged = readRun(dir);
  assert.equal(damaged.problems.length, 2, damaged.problems.join('; '));
  assert.match(damaged.problems[0]!, /^metrics\.jsonl line 2 is damaged \(.+\) and left out$/);
  assert.equal(damaged.problems[1], 'metrics.jsonl lacks epoch 2: taken from last.safetensors');
  assert.deepEqual(damaged.metrics, readMetrics(source), "the checkpoint's own history fills the gap");

  const run = spawnSync(process.execPath, [cli, 'report', dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /missing or damaged: metrics\.jsonl line 2 is damaged/);
  const { page } = await openPage(join(dir, 'report.html'), 'dark');
  assert.match(await page.locator('[data-problems]').innerText(), /line 2 is damaged/);
  assert.equal(await page.locator('svg[data-chart="loss"] polyline').count(), 2, 'train and test loss');
  await page.close();

  truncateSync(join(dir, 'last.safetensors'), 1000);
  const unreadable = readRun(dir);
  assert.equal(unreadable.recipe, null);
  assert.equal(unreadable.summary, null);
  assert.deepEqual(
    unreadable.metrics.map((m) => m.epoch),
    [1, 3],
  );
  assert.match(
    unreadable.problems.join('\n'),
    /last\.safetensors cannot be read \(.+\): the recipe, schedule and position are missing/,
  );
  assert.match(unreadable.problems.join('\n'), /no metrics for epoch 2/);
  const html = renderReport([unreadable]);
  assert.match(html, /Per-layer density<\/h2><p class="muted">Not available/);

  const none = spawnSync(process.execPath, [cli, 'report', scratchDir()], { encoding: 'utf8' });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /is not a run directory: it has neither last\.safetensors nor metrics\.jsonl/);
  assert.equal(spawnSync(process.execPath, [cli, 'report'], { encoding: 'utf8' }).status, 2);
});

test('the checkpoint is the record: metrics lines that disagree, claim absurd epochs or figures, or carry control characters are named, not drawn', async () => {
  const source = await resumedRun();
  const dir = scratchDir();
  for (const f of ['last.safetensors', 'metrics.jsonl']) copyFileSync(join(source, f), join(dir, f));
  const truth = readMetrics(source);
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  lines[0] = JSON.stringify({ ...JSON.parse(lines[0]!), testTop1: 0.99 }); // a line that lies
  lines.push(JSON.stringify({ ...JSON.parse(lines[2]!), epoch: 20_000_000 })); // an absurd epoch
  lines.push('\u001b[2J{"epoch": 2}'); // a damaged line with a terminal escape
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);

  const run = readRun(dir);
  assert.deepEqual(run.metrics, truth, "the checkpoint's history is shown");
  const problems = run.problems.join('\n');
  assert.match(
    problems,
    /metrics\.jsonl disagrees with last\.safetensors on epoch 1 \(testTop1 0\.99 against [\d.]+\): the checkpoint's figures are shown/,
  );
  assert.match(problems, /line 4 claims epoch 20000000, outside the run's 1\.\.3, and is left out/);
  assert.match(problems, /line 5 is damaged \(.*\\u001b.*\) and left out/);
  assert.ok(!problems.includes('\u001b'), 'no raw escape character');
  assert.ok(renderReport([run]).length < 2_000_000, 'the page is the size of the run');
  const cliRun = spawnSync(process.execPath, [cli, 'report', dir], { encoding: 'utf8' });
  assert.equal(cliRun.status, 0, cliRun.stderr);
  assert.ok(!cliRun.stdout.includes('\u001b'));

  // Without a checkpoint, out-of-range lines are left out rather than drawn as the result.
  const bare = scratchDir();
  const wild = [{ ...truth[0]!, testTop1: 55 }, { ...truth[1]!, testTop5: -3 }, truth[2]!];
  writeFileSync(join(bare, 'metrics.jsonl'), `${wild.map((m) => JSON.stringify(m)).join('\n')}\n`);
  const metricsOnly = readRun(bare);
  assert.deepEqual(
    metricsOnly.metrics.map((m) => m.epoch),
    [3],
  );
  assert.match(metricsOnly.problems.join('\n'), /line 1 is out of range \(testTop1 5500% is outside 0\.\.100%\)/);
  assert.match(metricsOnly.problems.join('\n'), /line 2 is out of range \(testTop5 -300% is outside 0\.\.100%\)/);
  assert.match(metricsOnly.problems.join('\n'), /no metrics for epochs 1-2/);

  // A recipe of many epochs draws a page of bounded size (its schedule sampled, no stack overflow).
  const long = { ...run, recipe: { ...run.recipe!, epochs: 50_000 } };
  const html = renderReport([long]);
  assert.ok(html.length < 2_000_000, `${html.length} characters`);
});

test("the report of a float run, its QAT run and a second recipe's run at 1280 px: no two labels overlap in either theme, the charts fill the page, QAT follows its parent", async () => {
  const [float, child] = [await resumedRun(), await qatRun()];
  const second = await trainTiny(secondRecipe, join(scratchDir(), 'adamw'));
  const runs = [float, child, second].map(readRun);
  assert.deepEqual(runs[1]!.parent, { dir: float, epochs: 3 }, 'the QAT run continues the float run');
  const file = join(scratchDir(), 'overlay.html');
  writeFileSync(file, renderReport(runs));
  for (const scheme of ['light', 'dark'] as const) {
    const { page } = await openPage(file, scheme, 1280);
    assert.deepEqual(await labelOverlaps(page), [], `${scheme}: overlapping labels`);
    assert.ok((await page.locator('svg text').count()) > 100, 'every chart drawn');
    // Two charts a row, filling the width of the page.
    const boxes = await page
      .locator('svg[data-chart]')
      .evaluateAll((svgs) => svgs.map((s) => s.getBoundingClientRect().toJSON() as DOMRect));
    const [loss, top1] = boxes as [DOMRect, DOMRect];
    assert.equal(loss.top, top1.top, 'loss and top-1 side by side');
    assert.ok(top1.right - loss.left > 0.9 * 1248, `the row spans ${top1.right - loss.left} px`);
    if (scheme === 'dark') {
      await page.close();
      continue;
    }
    // The QAT run is drawn after its parent's 3 epochs, and each point says its value on hover.
    const hover = (run: RunRecord) =>
      page
        .locator(`svg[data-chart="top1"] g[data-hover="${run.name} test top-1"] title`)
        .evaluateAll((ts) => ts.map((t) => t.textContent));
    const parentTop1 = runs[0]!.metrics.map(
      (m) => `${runs[0]!.name} test top-1, epoch ${m.epoch}: ${+(100 * m.testTop1).toFixed(2)}%`,
    );
    assert.deepEqual(await hover(runs[0]!), parentTop1);
    assert.match((await hover(runs[1]!))[0]!, new RegExp(`test top-1, epoch 4: `));
    // Each run says its data, device, wall time and the 80% bar.
    const facts = await page.locator('table[data-table="runs"]').innerText();
    assert.match(facts, /not recorded/, 'a run trained on data given in memory without saying what it is');
    assert.match(facts, /generated data in memory\tcpu\t[\d.]+ s/);
    assert.match(facts, /below the challenge's 80\.00% top-1 bar/);
    assert.match(facts, /4-4, after /);
    // The score charts of one rule set share one scale: the same axis under every run.
    const axes = await page
      .locator('svg[data-chart="score-official"]')
      .evaluateAll((svgs) =>
        svgs.map((s) => [...s.querySelectorAll('text[text-anchor="middle"]')].map((t) => t.textContent).join(' ')),
      );
    assert.equal(axes.length, 3);
    assert.equal(new Set(axes).size, 1, axes.join(' | '));
    await page.close();
  }
});
