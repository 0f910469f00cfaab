// Deployment: models exported to ONNX pass ONNX's own checker and compute in onnxruntime what
// micronet computes: float models within 1e-4 of its float eval, QDQ models the class its integer
// simulation predicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import type { Module } from '../src/nn/index.js';
import { buildModel } from '../src/models/registry.js';
import { generatedSplit, writeSynthetic } from '../src/data/index.js';
import { applyOverrides, findRecipe } from '../src/recipes/index.js';
import { train } from '../src/train/trainer.js';
import { planFor, prepareQuantized, setIntegerSimulation, setObserving } from '../src/quant/prepare.js';
import { exportOnnx } from '../src/deploy/export.js';
import { OnnxSession } from '../src/deploy/runtime.js';
import { relativeError, torchPython } from './support/oracle.js';
import { batchOf, cifar10Split } from './support/generated.js';
import { runCli } from './support/cli.js';
import { loadModelCheckpoint } from '../src/checkpoint/model-file.js';
import { scratchDir } from './support/scratch.js';

const hasOnnx = spawnSync(torchPython, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** ONNX's checker (full check: shapes inferred through the graph), or a skip where onnx is absent. */
function check(path: string): void {
  if (!hasOnnx) return;
  const r = spawnSync(
    torchPython,
    ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `${path}: ${r.stderr}`);
}

/** Generated CIFAR-100 test images as a normalised NCHW batch. */
const images = (count: number) => batchOf(generatedSplit(count, 3, 'test'));

/** A few training-mode forwards, so that BatchNorm statistics (and a quantized model's ranges) are not the defaults. */
function settle(model: Module, x: T.Tensor): void {
  T.noGrad(() => {
    for (let i = 0; i < 3; i++) T.tidy(() => model.forward(x.narrow(0, 16 * i, 16), true));
  });
}

async function exported(model: Module, name: string): Promise<OnnxSession> {
  const path = join(scratchDir(), `${name}.onnx`);
  writeFileSync(path, exportOnnx(model));
  check(path);
  return OnnxSession.open(path, { threads: 1 });
}

test("float exports pass the checker and give micronet's logits within 1e-4: the seed GoogLeNet, the smoke one and the zoo", async () => {
  const { x } = images(64);
  for (const [name, config] of [
    ['googlenet', {}],
    ['googlenet', { width: 0.125 }],
    ['wrn-28-10', { depth: 10, width: 1 }],
    ['densenet121', { width: 0.125 }],
    ['nasnet', { cells: 1, width: 0.25 }],
  ] as const) {
    const { model } = buildModel(name, config, { generator: new T.Generator(4) });
    settle(model, x);
    const ours = T.noGrad(() => model.forward(x, false));
    const session = await exported(model, name); // folds the BatchNorms of `model` in place
    const theirs = await session.logits(x);
    const err = relativeError(theirs, ours);
    console.log(`${name} ${JSON.stringify(config)}: onnxruntime's logits within ${err.toExponential(2)} of micronet's`);
    assert.ok(err < 1e-4, `${name}: ${err}`);
    await session.dispose();
    model.dispose();
  }
});

/** A smoke-sized GoogLeNet trained a few epochs on generated CIFAR-10 written to disk (shared by the tests below). */
let trainedRun: Promise<{ dataDir: string; checkpoint: string }> | undefined;
function trained(): Promise<{ dataDir: string; checkpoint: string }> {
  trainedRun ??= (async () => {
    const dataDir = join(scratchDir(), 'data');
    writeSynthetic(dataDir, { dataset: 'cifar10', train: 640, test: 256, seed: 1 });
    const recipe = applyOverrides(findRecipe('smoke'), [
      'data.dataset=cifar10',
      'model.config.numClasses=10',
      'data.batchSize=32',
      'data.workers=0',
      'epochs=3',
      'schedule.milestones=[3]',
      'pruning.events=[]',
    ]);
    const outDir = scratchDir();
    (await train(recipe, { dataDir, outDir })).model.dispose();
    return { dataDir, checkpoint: join(outDir, 'last.safetensors') };
  })();
  return trainedRun;
}

test('QDQ exports at W8/A8 and W4/A8 predict the class the integer simulation predicts', async () => {
  const { checkpoint } = await trained();
  const { x, y } = batchOf(cifar10Split(256, 'test'));
  for (const weightBits of [8, 4]) {
    const { model } = loadModelCheckpoint(checkpoint);
    prepareQuantized(
      model,
      planFor(model, { weightBits, actBits: 8, first: null, last: null, averagingConstant: 0.01 }),
    );
    settle(model, x); // calibrate the input ranges
    setObserving(model, false);
    setIntegerSimulation(model, true);
    const ours = T.noGrad(() => model.forward(x, false));
    const session = await exported(model, `w${weightBits}a8`);
    const theirs = await session.logits(x);
    const [a, b] = [ours.argmax(1), theirs.argmax(1)];
    const agree = T.tidy(() => a.eq(b).sum().item()) / 256;
    const top1 = (p: T.Tensor) => T.tidy(() => p.eq(y).sum().item()) / 256;
    const largest = T.tidy(() => theirs.sub(ours).abs().max().item());
    console.log(
      `W${weightBits}/A8: the same class on ${(100 * agree).toFixed(1)}% of 256 images; top-1 ${(100 * top1(a)).toFixed(2)}% ` +
        `(integer simulation) vs ${(100 * top1(b)).toFixed(2)}% (onnxruntime); largest logit difference ${largest.toExponential(2)} ` +
        `(logits up to ${T.tidy(() => ours.abs().max().item()).toFixed(3)})`,
    );
    assert.ok(agree >= 0.99, `agreement ${agree}`);
    assert.ok(Math.abs(top1(a) - top1(b)) <= 0.005, 'top-1 within half a point');
    await session.dispose();
    model.dispose();
  }
});

test('micronet quantize --epochs 0 (post-training), export and eval of the .onnx in onnxruntime, from the command line', async () => {
  const { dataDir, checkpoint } = await trained();
  const out = scratchDir();
  const evalTop1 = (file: string) => {
    const r = runCli(['eval', '--checkpoint', file, '--data', dataDir, '--dataset', 'cifar10', '--json']);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { top1: number }).top1;
  };
  for (const weightBits of [8, 4]) {
    const dir = join(out, `w${weightBits}`);
    const ptq = runCli([
      'quantize',
      '--checkpoint',
      checkpoint,
      '--epochs',
      '0',
      '--weight-bits',
      String(weightBits),
      '--calibration-batches',
      '4',
      '--data',
      dataDir,
      '--out',
      dir,
      ...(weightBits === 4 ? ['--json'] : []),
    ]);
    assert.equal(ptq.status, 0, ptq.stderr);
    // The lines at 8 bits; at 4, --json's object, the figures unrounded.
    const json =
      weightBits === 4 ? (JSON.parse(ptq.stdout) as { top1Float: number; top1: number; files: object }) : null;
    if (json) assert.deepEqual(json.files, { quantized: join(dir, 'quantized.safetensors') });
    const [, before, after] = json
      ? [0, 100 * json.top1Float, 100 * json.top1]
      : /test top-1 ([\d.]+)% \(float\) -> ([\d.]+)% \(integer simulation\)/.exec(ptq.stdout)!.map(Number);
    console.log(`PTQ W${weightBits}/A8: test top-1 ${before}% float -> ${after}% quantized`);
    if (weightBits === 8) assert.ok(before! - after! <= 1, 'W8/A8 post-training quantization loses at most a point');

    const onnx = join(dir, 'model.onnx');
    const exported = runCli(['export', '--checkpoint', join(dir, 'quantized.safetensors'), '--out', onnx]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /exported googlenet \(QDQ \(quantized\)\) at opset 17/);
    check(onnx);
    const [simulated, runtime] = [evalTop1(join(dir, 'quantized.safetensors')), evalTop1(onnx)];
    console.log(
      `W${weightBits}/A8 integer simulation ${(100 * simulated).toFixed(2)}%, onnxruntime ${(100 * runtime).toFixed(2)}%`,
    );
    assert.ok(
      Math.abs(simulated - after! / 100) < 5e-5,
      'eval of the integer checkpoint repeats the PTQ figure (printed to 0.01%)',
    );
    assert.ok(Math.abs(runtime - simulated) <= 0.005, 'onnxruntime within half a point');
  }
  const bad = runCli(['export', '--checkpoint', checkpoint, '--out', join(out, 'x.onnx'), '--opset', '9']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--opset must be an integer in 13\.\.21/);
});
