// Hostile and careless input, round 2: prototype keys, recipes out of bounds, another run's
// checkpoint, signals mid-write, impossible lock holders, the rendezvous. Each is refused by name
// (or ends correctly), and nothing is written or lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generatedSplit } from '../src/data/index.js';
import { applyOverrides, findRecipe, validateRecipe, type Recipe } from '../src/recipes/index.js';
import { train } from '../src/train/trainer.js';
import { worldFromEnv } from '../src/train/data-parallel.js';
import { lockFileName, readRunId, RunDirectory } from '../src/checkpoint/run-dir.js';
import { checkBits } from '../src/nn/fake-quant.js';
import { printable, shown } from '../src/text.js';
import { freePort } from '../src/cli/launch.js';
import { cli, runCli } from './support/cli.js';
import { scratchDir } from './support/scratch.js';

test('prototype keys in --set and in options are unknown fields, and Object.prototype stays clean', () => {
  for (const set of [
    '__proto__.toString={}',
    'constructor.name=x',
    'valueOf=1',
    'toString=1',
    'model.config.__proto__={"a":1}',
    'model.config.constructor=1',
    'data.hasOwnProperty=1',
  ]) {
    assert.throws(
      () => applyOverrides(findRecipe('smoke'), [set]),
      new RegExp(`unknown recipe field '${set.split('=')[0]!.replace(/\./g, '\\.')}'`),
      set,
    );
  }
  assert.equal(Object.hasOwn(Object.prototype, 'a'), false);
  assert.equal(typeof {}.toString, 'function');
  for (const option of ['--constructor', '--__proto__', '--toString', '--hasOwnProperty']) {
    const r = runCli(['score', option, 'x']);
    assert.equal(r.status, 2, `${option}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`unknown option ${option} for \`micronet score\``));
  }
});

test('validateRecipe checks every field: unknown ones, a non-string description, seeds, workers, epochs and batches out of bounds', () => {
  const smoke = () => structuredClone(findRecipe('smoke')) as Recipe & Record<string, unknown>;
  const refuses = (edit: (r: Recipe & Record<string, unknown>) => void, message: RegExp) => {
    const r = smoke();
    edit(r);
    assert.throws(() => validateRecipe(r), message);
  };
  // JSON.parse makes `__proto__` an own key: it is a field the recipe does not have.
  const withProto = JSON.parse(`{"__proto__": {"x": 1}, ${JSON.stringify(findRecipe('smoke')).slice(1)}`);
  assert.throws(() => validateRecipe(withProto), /unknown recipe field '__proto__'/);
  refuses((r) => Object.assign(r.schedule, { lrr: 0.1 }), /unknown recipe field 'schedule\.lrr'/);
  refuses((r) => Object.assign(r.data, { workerz: 2 }), /unknown recipe field 'data\.workerz'/);
  refuses((r) => Object.assign(r, { description: 42 }), /description must be a string/);
  refuses((r) => Object.assign(r, { seed: 1e20 }), /seed must be an integer in 0\.\.9007199254740991/);
  refuses((r) => Object.assign(r.data, { workers: 300 }), /data\.workers must be an integer in 0\.\.32/);
  refuses((r) => Object.assign(r, { epochs: 1e9 }), /epochs must be an integer in 1\.\.100000/);
  refuses((r) => Object.assign(r.data, { batchSize: 1e7 }), /data\.batchSize must be an integer in 1\.\.65536/);
  assert.throws(() => applyOverrides(findRecipe('smoke'), ['seed=1e20']), /seed must be an integer/);

  const eval300 = runCli(['eval', '--checkpoint', 'x.safetensors', '--data', 'x', '--workers', '300']);
  assert.equal(eval300.status, 2, eval300.stderr);
  assert.match(eval300.stderr, /--workers must be an integer in 0\.\.32/);
});

test('messages show values as what they are, and no control character reaches the terminal', () => {
  assert.throws(() => checkBits('4' as unknown as number, 'weightBits'), /got "4"$/);
  assert.throws(() => checkBits(undefined as unknown as number, 'actBits'), /got nothing$/);
  assert.equal(printable('ok\u001b[2J\u0007\u009b\u2028'), 'ok\\u001b[2J\\u0007\\u009b\\u2028');
  assert.equal(shown('x'.repeat(100)).length, 60);
});

const recipe = applyOverrides(findRecipe('smoke'), [
  'model.config.width=0.0625',
  'data.batchSize=32',
  'data.workers=0',
  'epochs=2',
  'schedule.warmupEpochs=0',
  'schedule.milestones=[2]',
  'pruning.events=[]',
]);
const data = { train: generatedSplit(64, 1, 'train'), test: generatedSplit(32, 1, 'test') };

test("resume refuses another run's checkpoint copied in, and leaves this run's files as they were", async () => {
  const [mine, theirs] = [scratchDir(), scratchDir()];
  const stopAfterEpoch = () => {
    let asked = 0;
    return () => ++asked === 3; // two steps, then the end of epoch 1
  };
  (await train(recipe, { dataDir: '', outDir: mine, data, shouldStop: stopAfterEpoch() })).model.dispose();
  const other = applyOverrides(recipe, ['seed=7', 'schedule.lr=0.05']);
  (await train(other, { dataDir: '', outDir: theirs, data, shouldStop: stopAfterEpoch() })).model.dispose();
  assert.match(readRunId(mine)!, /^[0-9a-f-]{36}$/, 'the run is given an identity with its first checkpoint');
  assert.notEqual(readRunId(mine), readRunId(theirs));

  const before = new Map(
    ['metrics.jsonl', 'best.safetensors', 'run.json'].map((f) => [f, readFileSync(join(mine, f))]),
  );
  copyFileSync(join(theirs, 'last.safetensors'), join(mine, 'last.safetensors'));
  await assert.rejects(
    train(other, { dataDir: '', outDir: mine, data, resume: true }),
    /last\.safetensors belongs to another run \(run [0-9a-f-]{36}: recipe smoke, seed 7, lr 0\.05, 2 epochs\) than the one .*run\.json names/,
  );
  for (const [f, bytes] of before) assert.deepEqual(readFileSync(join(mine, f)), bytes, `${f} is untouched`);

  // Without run.json, the best checkpoint still says whose the directory is.
  const third = scratchDir();
  for (const f of ['best.safetensors', 'metrics.jsonl']) copyFileSync(join(mine, f), join(third, f));
  copyFileSync(join(theirs, 'last.safetensors'), join(third, 'last.safetensors'));
  await assert.rejects(train(other, { dataDir: '', outDir: third, data, resume: true }), /belongs to another run/);
  // Its own checkpoint resumes.
  const own = await train(recipe, { dataDir: '', outDir: theirs, data, resume: true }).catch((e: Error) => e);
  assert.ok(own instanceof Error, 'the other run resumes only with its own recipe');
  const done = await train(other, { dataDir: '', outDir: theirs, data, resume: true });
  assert.equal(done.completed, true);
  done.model.dispose();
});

test('SIGTERM or SIGINT while a temporary file is being written leaves no temporary behind', () => {
  const dir = scratchDir();
  const atomic = new URL('../src/io/atomic.js', import.meta.url).href;
  const signals = new URL('../src/cli/signals.js', import.meta.url).href;
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    // A command's process: the CLI's signal handling, a temporary half written (as by a report or
    // an import), then the signal.
    const script = `import { openSync, writeSync } from 'node:fs';
import { temporaryPath } from ${JSON.stringify(atomic)};
import { exitOnSignals } from ${JSON.stringify(signals)};
exitOnSignals();
const tmp = temporaryPath(${JSON.stringify(join(dir, 'report.html'))});
writeSync(openSync(tmp, 'w'), Buffer.alloc(1 << 20));
process.kill(process.pid, ${JSON.stringify(signal)});
setTimeout(() => {}, 10000);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, code, child.stderr);
    assert.deepEqual(readdirSync(dir), [], `${signal}: no temporary is left`);
  }
});

test('a lock naming a pid no process can have (-1, 0, above 2^22) is stale and taken over', () => {
  for (const pid of [-1, 0, 4194304999]) {
    const dir = scratchDir();
    writeFileSync(
      join(dir, lockFileName),
      JSON.stringify({ pid, host: 'another-machine', since: '2026-01-01T00:00:00Z' }),
    );
    const run = RunDirectory.open(dir);
    assert.equal(JSON.parse(readFileSync(join(dir, lockFileName), 'utf8')).pid, process.pid, `pid ${pid}`);
    assert.equal(JSON.parse(readFileSync(join(dir, lockFileName), 'utf8')).host, hostname());
    run.release();
  }
});

/** A rank of a data-parallel run started by hand; resolves with its exit code, stderr and seconds taken. */
function rank(
  env: Record<string, string>,
  out: string,
): Promise<{ code: number | null; stderr: string; seconds: number }> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [cli, 'train', '--recipe', 'smoke', '--out', out, '--data', join(out, 'no-data'), '--timeout', '3'],
    { env: { ...process.env, MASTER_ADDR: '127.0.0.1', ...env } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr, seconds: (Date.now() - started) / 1000 })),
  );
}

test('the rendezvous: a bounded world, the timeout honoured, a rank taken twice named, no engine internals on stderr', async () => {
  assert.throws(
    () => worldFromEnv({ WORLD_SIZE: '65536', RANK: '0', MASTER_PORT: '29500' }),
    /WORLD_SIZE=65536 must be an integer in 1\.\.1024/,
  );
  const dir = scratchDir();
  const internals = /\.cpp:\d|\.cc:\d|frame #|InitGoogleLogging|Exception raised from/;

  // No master: a rank waits --timeout (3 s), whatever the world's size.
  const port = String(await freePort());
  const alone = await rank({ WORLD_SIZE: '1024', RANK: '5', MASTER_PORT: port }, join(dir, 'alone'));
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /no rendezvous at MASTER_ADDR=127\.0\.0\.1 MASTER_PORT=\d+ after 3 s/);
  assert.ok(alone.seconds < 3 + 5, `gave up after ${alone.seconds} s`);
  assert.doesNotMatch(alone.stderr, internals);

  // Ranks 0 and 1 of 3, and a second rank 1: the second is named; the others name the rank that never came.
  const world = { WORLD_SIZE: '3', MASTER_PORT: String(await freePort()) };
  const master = rank({ ...world, RANK: '0' }, join(dir, 'r0'));
  await new Promise((r) => setTimeout(r, 300));
  const [first, second] = await Promise.all([
    rank({ ...world, RANK: '1' }, join(dir, 'r1')),
    rank({ ...world, RANK: '1' }, join(dir, 'r1b')),
  ]);
  const zero = await master;
  const [dup, kept] = /taken twice/.test(first.stderr) ? [first, second] : [second, first];
  assert.match(dup.stderr, /RANK 1 is taken twice: another process of this run has the same RANK/);
  for (const r of [zero, kept]) {
    assert.equal(r.code, 1);
    assert.match(r.stderr, /2 of 3 ranks joined within 3 s; missing: rank 2/);
    assert.ok(r.seconds < 3 + 5, `gave up after ${r.seconds} s`);
  }
  for (const r of [zero, first, second]) assert.doesNotMatch(r.stderr, internals);
  assert.equal(existsSync(join(dir, 'r0', 'last.safetensors')), false);
});
