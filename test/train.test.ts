// The trainer: exact resumption after an interruption, a clean stop on a non-finite loss that
// keeps the last good checkpoint, Ctrl-C through the CLI, and the files a run leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { generatedSplit, writeSynthetic } from '../src/data/index.js';
import { applyOverrides } from '../src/recipes/index.js';
import { lastCheckpoint } from '../src/checkpoint/run-dir.js';
import { train, TrainingError } from '../src/train/trainer.js';
import { loadModelCheckpoint } from '../src/checkpoint/model-file.js';
import { scratchDir } from './support/scratch.js';
import { tinySmoke } from './support/generated.js';
import { cli } from './support/cli.js';

const recipe = tinySmoke;

const data = { train: generatedSplit(160, 1, 'train'), test: generatedSplit(32, 1, 'test') };

const withoutTiming = (h: { seconds: number; imagesPerSecond: number }[]) =>
  h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

const adamw = applyOverrides(recipe, ['optimizer.name=adamw', 'schedule.lr=0.002']);
for (const [optimizer, r] of [
  ['SGD', recipe],
  ['AdamW', adamw],
] as const) {
  test(`an interrupted run resumed from its checkpoint ends with exactly the parameters of an uninterrupted one (${optimizer})`, async () => {
    const whole = await train(r, { dataDir: '', outDir: scratchDir(), data });
    assert.equal(whole.completed, true);

    const outDir = scratchDir();
    let steps = 0;
    const first = await train(r, { dataDir: '', outDir, data, shouldStop: () => ++steps === 7 }); // asked after each step and epoch: epoch 2, batch 1 of 5
    assert.equal(first.completed, false);
    first.model.dispose();
    const resumed = await train(r, { dataDir: '', outDir, data, resume: true });
    assert.equal(resumed.completed, true);

    for (const [key, t] of whole.model.stateDict()) {
      assert.deepEqual(resumed.model.stateDict().get(key)!.data(), t.data(), key);
    }
    assert.deepEqual(withoutTiming(resumed.history), withoutTiming(whole.history));
    assert.equal(readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
    assert.ok(existsSync(join(outDir, 'best.safetensors')));
    const saved = loadModelCheckpoint(lastCheckpoint(outDir)); // training checkpoints load as models too
    assert.deepEqual(
      saved.model.stateDict().get('linear.mask')!.data(),
      whole.model.stateDict().get('linear.mask')!.data(),
    );
    for (const m of [whole.model, resumed.model, saved.model]) m.dispose();
  });
}

test('channels_last training follows the same trajectory as NCHW', async () => {
  const short = applyOverrides(recipe, [
    'epochs=2',
    'schedule.milestones=[2]',
    'pruning.events=[{"epoch":2,"layers":"conv"}]',
  ]);
  const run = async (r: typeof recipe) => {
    const losses: number[] = [];
    const result = await train(r, {
      dataDir: '',
      outDir: scratchDir(),
      data,
      events: {
        step: ({ loss }) => {
          losses.push(loss);
        },
      },
    });
    return { ...result, losses };
  };
  const nchw = await run(short);
  const cl = await run(applyOverrides(short, ['channelsLast=true']));
  assert.equal(cl.model.stateDict().get('prelayer.0.weight')!.isContiguous('channels_last'), true);
  // The first step sees identical weights: only summation order differs. Later steps drift apart
  // slowly, as any change of convolution algorithm makes them.
  assert.ok(Math.abs(nchw.losses[0]! - cl.losses[0]!) < 1e-5 * nchw.losses[0]!, `${nchw.losses[0]} vs ${cl.losses[0]}`);
  nchw.history.forEach((a, i) => {
    const b = cl.history[i]!;
    assert.ok(
      Math.abs(a.trainLoss - b.trainLoss) < 2e-2 * a.trainLoss,
      `epoch ${a.epoch}: ${a.trainLoss} vs ${b.trainLoss}`,
    );
  });
  nchw.model.dispose();
  cl.model.dispose();
});

test('bfloat16 autocast training keeps float32 weights and tracks the float32 run', async () => {
  const short = applyOverrides(recipe, [
    'epochs=2',
    'schedule.milestones=[2]',
    'pruning.events=[{"epoch":2,"layers":"conv"}]',
  ]);
  const fp32 = await train(short, { dataDir: '', outDir: scratchDir(), data });
  const bf16 = await train(applyOverrides(short, ['precision=bfloat16']), { dataDir: '', outDir: scratchDir(), data });
  assert.equal(bf16.model.stateDict().get('linear.weight')!.dtype, 'float32');
  bf16.history.forEach((h, i) => {
    const reference = fp32.history[i]!.trainLoss;
    assert.ok(
      Number.isFinite(h.trainLoss) && Math.abs(h.trainLoss - reference) < 0.05 * reference,
      `epoch ${h.epoch}: ${h.trainLoss} vs ${reference}`,
    );
  });
  fp32.model.dispose();
  bf16.model.dispose();
});

test('a non-finite loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const outDir = scratchDir();
  let lastGood: Buffer | undefined;
  await assert.rejects(
    train(recipe, {
      dataDir: '',
      outDir,
      data,
      events: {
        step({ epoch, batch, model }) {
          if (epoch === 2 && batch === 1) {
            lastGood = readFileSync(lastCheckpoint(outDir));
            T.noGrad(() => model.stateDict().get('linear.weight')!.fill_(Number.NaN));
          }
        },
      },
    }),
    (e: Error) =>
      e instanceof TrainingError &&
      /the loss is NaN at epoch 2, batch 2: training stopped\. The last good checkpoint is .*last\.safetensors \(after epoch 1\)/.test(
        e.message,
      ),
  );
  assert.ok(lastGood && readFileSync(lastCheckpoint(outDir)).equals(lastGood), 'the epoch-1 checkpoint is untouched');
});

test('resuming refuses a run directory without a checkpoint or with another recipe', async () => {
  await assert.rejects(train(recipe, { dataDir: '', outDir: scratchDir(), data, resume: true }), /nothing to resume/);
  const outDir = scratchDir();
  const run = await train(recipe, { dataDir: '', outDir, data, shouldStop: () => true });
  run.model.dispose();
  const other = applyOverrides(recipe, ['seed=5']);
  await assert.rejects(train(other, { dataDir: '', outDir, data, resume: true }), /written by a different recipe/);
});

test('Ctrl-C during `micronet train` saves and exits cleanly; --resume finishes the run', async () => {
  const dir = scratchDir();
  writeSynthetic(join(dir, 'data'), { dataset: 'cifar100', train: 320, test: 32, seed: 3 });
  const out = join(dir, 'run');
  const sets = [
    'model.config.width=0.0625',
    'data.batchSize=16',
    'data.workers=0',
    'epochs=3',
    'schedule.warmupEpochs=1',
    'schedule.milestones=[3]',
    'pruning.events=[{"epoch":2,"layers":"conv"}]',
  ].flatMap((s) => ['--set', s]);
  const child = spawn(
    process.execPath,
    [cli, 'train', '--recipe', 'smoke', '--data', join(dir, 'data'), '--out', out, ...sets],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('training smoke')) setTimeout(() => child.kill('SIGINT'), 1500);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: saving after this step/);
  assert.match(stderr, /stopped (at|after) epoch \d+.*continue with --resume/);
  assert.ok(existsSync(lastCheckpoint(out)));

  const resume = spawn(process.execPath, [cli, 'train', '--resume', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  resume.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  assert.equal(await new Promise((resolve) => resume.on('exit', resolve)), 0);
  assert.match(stdout, /final: test top-1 [\d.]+%, top-5 [\d.]+% on 32 images/);
  assert.match(stdout, /MicroNet score \(official rules\): [\d.]+ \(16-bit; /);
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
});
