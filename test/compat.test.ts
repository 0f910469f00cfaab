// Runs written by earlier releases keep working: test/fixtures/run-0.1.0 was written by micronet
// 0.1.0 (SGD momentum under `#momentum/`, a recipe without an optimizer name, metrics lines
// without a format) and stopped by SIGTERM in epoch 3. Today's release resumes it to exactly the
// parameters of a run it makes from the start, and reports it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynthetic } from '../src/data/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { lastCheckpoint, metricsFile } from '../src/checkpoint/run-dir.js';
import { metricsFormat } from '../src/checkpoint/metrics.js';
import { runCli } from './support/cli.js';
import { scratchDir } from './support/scratch.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/run-0.1.0', import.meta.url));
/** What the fixture's run was started with (its README). */
const sets = [
  'model.config.width=0.0625',
  'data.batchSize=16',
  'data.workers=0',
  'epochs=4',
  'schedule.warmupEpochs=1',
  'schedule.milestones=[3]',
  'pruning.events=[{"epoch":2,"layers":"conv"}]',
];

test('a run stopped by micronet 0.1.0 resumes to the same parameters as a run started today, and reports', () => {
  const dir = scratchDir();
  const data = join(dir, 'data');
  writeSynthetic(data, { train: 128, test: 32, seed: 7 });
  const old = join(dir, 'old');
  cpSync(fixture, old, { recursive: true });
  const before = readFileSync(metricsFile(old), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(before[0]!.format, undefined, 'the fixture predates metrics formats');

  const resumed = runCli(['train', '--resume', old, '--data', data]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming smoke at epoch 3, batch 1/);

  const fresh = join(dir, 'fresh');
  const started = runCli([
    'train',
    '--recipe',
    'smoke',
    '--data',
    data,
    '--out',
    fresh,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  assert.equal(started.status, 0, started.stderr);
  const ours = readSafetensors(lastCheckpoint(old)).tensors;
  const theirs = readSafetensors(lastCheckpoint(fresh)).tensors;
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), "the resumed checkpoint is in today's layout");
  for (const [key, t] of theirs) {
    if (key.startsWith('#rng/')) continue;
    assert.deepEqual(ours.get(key)!.data(), t.data(), key);
  }

  const after = readFileSync(metricsFile(old), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    after.map((m) => [m.epoch, m.format]),
    [
      [1, metricsFormat],
      [2, metricsFormat],
      [3, metricsFormat],
      [4, metricsFormat],
    ],
  );
  assert.deepEqual(
    after.slice(0, 2).map(({ format: _, ...m }) => m),
    before,
    'the old epochs are carried over unchanged',
  );

  const html = join(dir, 'report.html');
  const report = runCli(['report', old, '--out', html]);
  assert.equal(report.status, 0, report.stderr);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /complete: 4 epochs/);
  assert.doesNotMatch(page, /left out|cannot be read/);
});
