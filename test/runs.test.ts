// Run directories: one writer at a time, stale locks, damaged saved state refused on resume, a
// finished run that says so, SIGTERM like Ctrl-C, and no empty directory left by a failed start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generatedSplit, writeSynthetic, type Split } from '../src/data/index.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { applyOverrides, findRecipe } from '../src/recipes/index.js';
import { lockFileName, RunDirectory, RunLockedError } from '../src/checkpoint/run-dir.js';
import { lastCheckpoint } from '../src/checkpoint/run-dir.js';
import { RunFinishedError, train, TrainingError } from '../src/train/trainer.js';
import { scratchDir } from './support/scratch.js';
import { cli } from './support/cli.js';

const tinySets = [
  'model.config.width=0.0625',
  'data.batchSize=16',
  'data.workers=0',
  'epochs=2',
  'schedule.warmupEpochs=1',
  'schedule.milestones=[2]',
  'pruning.events=[{"epoch":2,"layers":"conv"}]',
];
const recipe = applyOverrides(findRecipe('smoke'), tinySets);

const split = (count: number, which: 'train' | 'test'): Split => generatedSplit(count, 1, which);
const data = { train: split(64, 'train'), test: split(16, 'test') };

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function waitFor(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('two `micronet train` processes into one directory: the second is refused, the first completes untouched', async () => {
  const dir = scratchDir();
  writeSynthetic(join(dir, 'data'), { dataset: 'cifar100', train: 640, test: 32, seed: 3 }); // long enough for the second to start meanwhile
  const out = join(dir, 'run');
  const args = [
    'train',
    '--recipe',
    'smoke',
    '--data',
    join(dir, 'data'),
    '--out',
    out,
    ...tinySets.flatMap((s) => ['--set', s]),
  ];
  const first = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const firstDone = waitFor(first);
  // The first announces its run once it holds the lock.
  await new Promise<void>((resolve) =>
    first.stderr!.on('data', (d: Buffer) => {
      if (d.toString().includes('training smoke')) resolve();
    }),
  );
  const second = await waitFor(spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(second.code, 1, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`${out.replace(/[/\\]/g, '.')} is in use by process ${first.pid} on .*one run at a time`),
  );

  const done = await firstDone;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /final: test top-1/);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number });
  assert.deepEqual(
    metrics.map((m) => m.epoch),
    [1, 2],
  );
  assert.equal(existsSync(join(out, lockFileName)), false, 'the lock is released');

  // Resuming the finished run says so and succeeds.
  const again = spawnSync(process.execPath, [cli, 'train', '--resume', out], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /the run in .* is finished: all 2 epochs are done/);
  assert.match(again.stdout, /final: test top-1 [\d.]+%, top-5 [\d.]+% \(epoch 2\)/);
});

test('a lock whose process is gone is taken over; a live one is respected', () => {
  const dir = scratchDir();
  writeFileSync(
    join(dir, lockFileName),
    JSON.stringify({ pid: deadPid(), host: hostname(), since: '2026-01-01T00:00:00Z' }),
  );
  const run = RunDirectory.open(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, lockFileName), 'utf8')).pid, process.pid);
  run.release();
  assert.equal(existsSync(join(dir, lockFileName)), false);

  writeFileSync(
    join(dir, lockFileName),
    JSON.stringify({ pid: process.ppid, host: hostname(), since: '2026-01-01T00:00:00Z' }),
  );
  assert.throws(
    () => RunDirectory.open(dir),
    (e: Error) => e instanceof RunLockedError && e.message.includes(`in use by process ${process.ppid}`),
  );
  writeFileSync(
    join(dir, lockFileName),
    JSON.stringify({ pid: 1, host: 'another-machine', since: '2026-01-01T00:00:00Z' }),
  );
  assert.throws(
    () => RunDirectory.open(dir),
    /in use by process 1 on another-machine/,
    "another host's lock cannot be judged stale",
  );
});

test('a run that fails before its first write leaves no directory behind', async () => {
  const out = join(scratchDir(), 'run');
  await assert.rejects(train(recipe, { dataDir: join(out, '..', 'no-data-here'), outDir: out }), /CIFAR-100 not found/);
  assert.equal(existsSync(out), false);
  const cliRun = spawnSync(
    process.execPath,
    [cli, 'train', '--recipe', 'smoke', '--data', join(out, '..', 'nothing'), '--out', out],
    { encoding: 'utf8' },
  );
  assert.equal(cliRun.status, 1);
  assert.equal(existsSync(out), false);
  // A directory that was there before is left, empty or not.
  const existing = scratchDir();
  await assert.rejects(train(recipe, { dataDir: join(existing, 'none'), outDir: existing }), /not found/);
  assert.deepEqual(readdirSync(existing), []);
});

test('resuming checks the saved state: damaged recipes, positions and histories are refused, naming the problem', async () => {
  const outDir = scratchDir();
  let steps = 0;
  const stopped = await train(recipe, { dataDir: '', outDir, data, shouldStop: () => ++steps === 6 }); // epoch 2, batch 2
  stopped.model.dispose();
  const path = lastCheckpoint(outDir);
  const original = readSafetensors(path);
  // biome-ignore lint/suspicious/noExplicitAny: the test damages the saved state field by field
  const state = JSON.parse(original.metadata.state!) as Record<string, any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const damage = async (edit: (s: Record<string, any>) => void, expected: RegExp) => {
    const s = structuredClone(state);
    edit(s);
    writeSafetensors(path, original.tensors, { ...original.metadata, state: JSON.stringify(s) });
    await assert.rejects(train(s.recipe, { dataDir: '', outDir, data, resume: true }), expected);
    const viaCli = spawnSync(process.execPath, [cli, 'train', '--resume', outDir], { encoding: 'utf8' });
    assert.equal(viaCli.status, 1);
    assert.doesNotMatch(viaCli.stderr, /TypeError|Cannot read properties/);
  };
  await damage((s) => {
    s.recipe.schedule.lr = -1;
  }, /damaged training state: its recipe is invalid: .*schedule\.lr must be positive/);
  await damage((s) => {
    s.position.epoch = -3;
  }, /position\.epoch -3 is outside 1\.\.3/);
  await damage((s) => {
    s.position.batch = 1e9;
  }, /saved position is batch 1000000000 of epoch 2, but an epoch of this data has 4 batches/);
  await damage((s) => {
    s.history = [{ epoch: 'one' }];
  }, /history entry 1 is not the metrics of epoch 1/);
  await damage((s) => {
    delete s.recipe;
  }, /its recipe is invalid/);
  await damage((s) => {
    s.progress = null;
  }, /progress is malformed/);

  writeSafetensors(path, original.tensors, original.metadata);
  const resumed = await train(recipe, { dataDir: '', outDir, data, resume: true });
  assert.equal(resumed.completed, true, 'the undamaged file still resumes');
  resumed.model.dispose();
  await assert.rejects(
    train(recipe, { dataDir: '', outDir, data, resume: true }),
    (e: Error) =>
      e instanceof RunFinishedError && /is finished: all 2 epochs are done/.test(e.message) && e.history.length === 2,
  );
  await assert.rejects(
    train(recipe, { dataDir: '', outDir, data }),
    (e: Error) => e instanceof TrainingError && /already holds a run/.test(e.message),
  );
});

test('SIGTERM during `micronet train` saves the position like Ctrl-C; --resume finishes the run', async () => {
  const dir = scratchDir();
  writeSynthetic(join(dir, 'data'), { dataset: 'cifar100', train: 320, test: 32, seed: 3 });
  const out = join(dir, 'run');
  const child = spawn(
    process.execPath,
    [
      cli,
      'train',
      '--recipe',
      'smoke',
      '--data',
      join(dir, 'data'),
      '--out',
      out,
      ...tinySets.flatMap((s) => ['--set', s]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (d: Buffer) => {
    if (d.toString().includes('training smoke')) setTimeout(() => child.kill('SIGTERM'), 1000);
  });
  const { code, stderr } = await waitFor(child);
  assert.equal(code, 143, stderr);
  assert.match(stderr, /terminated: saving after this step/);
  assert.match(stderr, /stopped (at|after) epoch \d+.*continue with --resume/);
  const resumed = spawnSync(process.execPath, [cli, 'train', '--resume', out], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /final: test top-1/);
});
