// The `micronet` command itself: usage, help, exit codes, recipes as files, threads and --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { findRecipe, recipeNames, validateRecipe } from '../src/recipes/index.js';
import { busyHint, useThreads } from '../src/cli/options.js';
import { cli } from './support/cli.js';
import { scratchDir } from './support/scratch.js';

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('micronet without a command prints usage and fails; --help succeeds', () => {
  const bare = run();
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /a command is needed[\s\S]*usage: micronet <command>/);
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: micronet <command>[\s\S]*train/);
  const unknown = run('trian');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'trian'/);
});

test("--version names micronet and its engine; help CMD prints that command's usage, positional arguments included", () => {
  const version = run('--version');
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^micronet \d+\.\d+\.\d+\nlibtorch \d+\.\d+/);
  const report = run('help', 'report');
  assert.equal(report.status, 0);
  assert.match(report.stdout, /^usage: micronet report <run-dir>\.\.\. \[options\]/);
  assert.equal(run('report', '--help').stdout, report.stdout, 'help report and report --help agree');
  assert.match(run('help', 'import').stdout, /^usage: micronet import <file\.pth> \[options\]/);
  assert.match(run('help', 'train').stdout, /--threads <number>[\s\S]*--json[\s\S]*--log-interval/);
  const nope = run('help', 'trian');
  assert.equal(nope.status, 2);
  assert.match(nope.stderr, /no command 'trian'/);
});

test('usage errors exit 2: an unknown recipe, a stray argument, an --out of no checkpoint format, --threads 0, a GPU this build lacks', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--recipe', 'smok'], /unknown recipe 'smok' \(built in: .*smoke.*; or a recipe file/],
    [['smoke', 'extra'], /unexpected argument 'extra'/],
    [['train', '--recipe', 'smoke', '--set', 'epochs=2'], /pruning\.events\[0\] \(epoch 4\)/],
    [['train', '--recipe', './missing-recipe.json'], /recipe file .*missing-recipe\.json/],
    [
      ['prune', '--checkpoint', 'x.safetensors', '--out', 'x.bin'],
      /--out x\.bin: name the checkpoint \.safetensors .* or \.pth/,
    ],
    [['smoke', '--threads', '0'], /--threads must be an integer in 1\.\./],
    [['train', '--recipe', 'smoke', '--log-interval', '0'], /--log-interval must be a positive number of steps/],
  ];
  if (!T.cuda.isAvailable())
    cases.push([['eval', '--checkpoint', 'x', '--data', 'y', '--device', 'cuda'], /--device cuda: no CUDA device/]);
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `micronet ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('micronet recipes lists the built-in ones and prints one whole, as --set lines or as JSON that validates', () => {
  const list = run('recipes');
  assert.equal(list.status, 0);
  for (const name of recipeNames()) assert.match(list.stdout, new RegExp(`^${name} `, 'm'));
  const lines = run('recipes', 'smoke').stdout;
  assert.match(lines, /^epochs=8$/m);
  assert.match(lines, /^schedule\.milestones=\[7\]$/m);
  const json = JSON.parse(run('recipes', 'smoke', '--json').stdout);
  assert.deepEqual(validateRecipe(json), findRecipe('smoke'));
  assert.deepEqual(
    JSON.parse(run('recipes', '--json').stdout).map((r: { name: string }) => r.name),
    recipeNames(),
  );
});

test('a recipe file from `recipes --json`, edited, trains with --threads 1; --json ends with one object; the log shows steps', () => {
  const dir = scratchDir();
  const data = join(dir, 'data');
  assert.equal(run('data', 'generate', '--dir', data, '--train', '96', '--test', '32').status, 0);
  const recipe = JSON.parse(run('recipes', 'smoke', '--json').stdout);
  Object.assign(recipe, { name: 'my-smoke', epochs: 2 });
  recipe.model.config.width = 0.0625;
  Object.assign(recipe.data, { batchSize: 32, workers: 0 });
  Object.assign(recipe.schedule, { milestones: [2] });
  recipe.pruning.events = [{ epoch: 2, layers: 'conv' }];
  const file = join(dir, 'my-smoke.json');
  writeFileSync(file, JSON.stringify(recipe));
  const out = join(dir, 'run');
  const r = run(
    'train',
    '--recipe',
    file,
    '--data',
    data,
    '--out',
    out,
    '--threads',
    '1',
    '--json',
    '--log-interval',
    '2',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /training my-smoke .* on cpu with 1 engine thread \(loading on the main thread\)/);
  assert.match(r.stderr, /^epoch 1\/2 step 2\/3 {2}loss /m, 'a line every 2 steps when stderr is no terminal');
  assert.doesNotMatch(r.stderr, /step 1\/3|step 3\/3/);
  const end = JSON.parse(r.stdout); // stdout is the object alone
  assert.equal(end.recipe, 'my-smoke');
  assert.equal(end.epoch, 2);
  assert.ok(end.top1 >= 0 && end.top1 <= 1 && end.sparsity > 0);
  assert.deepEqual(
    end.scores.map((s: { rules: string }) => s.rules),
    ['official', 'id56'],
  );
  assert.ok(existsSync(end.files.best) && existsSync(end.files.last));
  // A file that is not a recipe is named with its problem.
  writeFileSync(file, JSON.stringify({ ...recipe, epohcs: 3 }));
  const typo = run('train', '--recipe', file, '--data', data);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*epohcs`));
});

test("the engine's threads: --threads if given, else OMP_NUM_THREADS, else one per core; a busy machine gets a hint", () => {
  const before = T.getNumThreads();
  const env = process.env.OMP_NUM_THREADS;
  try {
    delete process.env.OMP_NUM_THREADS;
    assert.equal(useThreads(1), 1);
    assert.equal(T.getNumThreads(), 1);
    assert.equal(useThreads(undefined), availableParallelism());
    process.env.OMP_NUM_THREADS = '3';
    assert.equal(useThreads(undefined), 3);
    assert.throws(() => useThreads(1.5), /--threads must be an integer/);
  } finally {
    if (env === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = env;
    T.setNumThreads(before);
  }
  const cores = availableParallelism();
  assert.equal(busyHint(cores, false, 0), null, 'an idle machine');
  assert.equal(busyHint(cores, true, cores), null, 'a count the user chose');
  if (cores > 1)
    assert.match(
      busyHint(cores, false, cores - 1)!,
      new RegExp(`load average ${cores - 1}\\.0 on ${cores} cores.*--threads 1 may be faster than ${cores}`),
    );
});
