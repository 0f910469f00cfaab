// evaluate() counts top-1/top-5 and averages the cross-entropy as PyTorch does; `micronet eval`
// reports the same numbers for a checkpoint on a data directory, and refuses bad input clearly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { BatchNorm2d, Conv2d, FusedConv2d, Linear, Module, ReLU } from '../src/nn/index.js';
import { buildModel } from '../src/models/registry.js';
import { saveModelCheckpoint } from '../src/checkpoint/model-file.js';
import { Loader, loadSplit, writeSynthetic, type PipelineName } from '../src/data/index.js';
import { evaluate, prepareFastEval, type EvalResult } from '../src/train/evaluate.js';
import { decode, TorchOracle, type Encoded } from './support/oracle.js';
import { cli } from './support/cli.js';
import { scratchDir } from './support/scratch.js';

const root = scratchDir('micronet-eval-');
const oracle = new TorchOracle();
after(() => oracle.close());

/** A model whose input already is the logits. */
class GivenLogits extends Module {
  forward(x: T.Tensor): T.Tensor {
    return x.mul(1);
  }
}

/** Batches of `size` rows of x and y, copied so that evaluate() can dispose them. */
async function* batchesOf(x: T.Tensor, y: T.Tensor, size: number) {
  for (let at = 0; at < x.size(0); at += size) {
    const n = Math.min(size, x.size(0) - at);
    yield T.tidy(() => ({ x: x.narrow(0, at, n).clone(), y: y.narrow(0, at, n).clone(), size: n }));
  }
}

/** PyTorch's top-1 and top-5 counts and mean cross-entropy of the same logits and labels. */
async function torchEval(
  logits: T.Tensor,
  labels: T.Tensor,
): Promise<{ correct1: number; correct5: number; loss: number }> {
  const { outputs } = await oracle.run({
    code: `hits = logits.topk(5, 1).indices == y[:, None]
out = (hits[:, 0].sum(), hits.sum(), F.cross_entropy(logits.double(), y))`,
    inputs: { logits, y: labels },
  });
  const [c1, c5, loss] = outputs.map((o) => decode(o as Encoded).values[0]!);
  return { correct1: c1!, correct5: c5!, loss: loss! };
}

test('evaluate() agrees with PyTorch on counts and mean loss, over uneven batches, and frees every batch', async () => {
  const n = 200,
    classes = 100;
  const logits = T.randn([n, classes], { generator: new T.Generator(1) });
  // Sample i's label is its (i mod 7)-th highest logit: ranks 0 count for top-1, ranks 0..4 for top-5.
  const rank = (i: number) => i % 7;
  const order = T.tidy(() => logits.topk(classes, 1).indices.data<'int64'>());
  const labels = T.tensor(
    BigInt64Array.from({ length: n }, (_, i) => order[i * classes + rank(i)]!),
    { shape: [n] },
  );
  const ranks = Array.from({ length: n }, (_, i) => rank(i));

  const live = T.liveTensors();
  const r = await evaluate(new GivenLogits(), batchesOf(logits, labels, 64));
  assert.equal(T.liveTensors(), live, 'every batch and intermediate is freed');

  const want = await torchEval(logits, labels);
  assert.equal(r.count, n);
  assert.equal(r.correct1, want.correct1);
  assert.equal(r.correct5, want.correct5);
  assert.equal(r.correct1, ranks.filter((k) => k === 0).length);
  assert.equal(r.correct5, ranks.filter((k) => k < 5).length);
  assert.equal(r.top1, r.correct1 / n);
  assert.equal(r.top5, r.correct5 / n);
  assert.ok(Math.abs(r.loss - want.loss) <= 1e-12 * want.loss, `loss ${r.loss} vs PyTorch ${want.loss}`);
  logits.dispose();
  labels.dispose();
});

test('evaluate() with autocast runs the model in bfloat16, as torch.autocast does', async () => {
  const g = new T.Generator(2);
  const model = new Linear(64, 10, { generator: g });
  const x = T.randn([96, 64], { generator: g });
  const y = T.randint(0, 10, [96], { generator: g });
  const plain = await evaluate(model, batchesOf(x, y, 32));
  const mixed = await evaluate(model, batchesOf(x, y, 32), { autocast: true });
  const { outputs } = await oracle.run({
    code: `with torch.autocast('cpu', dtype=torch.bfloat16):
    z = F.linear(x, w, b)
hits = z.double().topk(5, 1).indices == y[:, None]
out = (hits[:, 0].sum(), hits.sum(), F.cross_entropy(z.double(), y))`,
    inputs: { x, y, w: model.weight, b: model.bias! },
  });
  const [c1, c5, loss] = outputs.map((o) => decode(o as Encoded).values[0]!);
  assert.equal(mixed.correct1, c1);
  assert.equal(mixed.correct5, c5);
  assert.ok(Math.abs(mixed.loss - loss!) <= 1e-12 * loss!, `loss ${mixed.loss} vs PyTorch ${loss}`);
  assert.notEqual(mixed.loss, plain.loss, 'bfloat16 logits differ from float32 ones');
  x.dispose();
  y.dispose();
  model.dispose();
});

test('evaluate() frees the batches when the model fails, and refuses an empty stream', async () => {
  class Broken extends Module {
    forward(): T.Tensor {
      throw new Error('broken model');
    }
  }
  const x = T.zeros([4, 10]);
  const y = T.zeros([4], { dtype: 'int64' });
  const live = T.liveTensors();
  await assert.rejects(evaluate(new Broken(), batchesOf(x, y, 2)), /broken model/);
  assert.equal(T.liveTensors(), live);
  const none = async function* (): AsyncGenerator<{ x: T.Tensor; y: T.Tensor; size: number }> {};
  await assert.rejects(evaluate(new GivenLogits(), none()), /no images/);
  x.dispose();
  y.dispose();
});

// The CLI on a small synthetic CIFAR-100 set and an untrained GoogLeNet (its forward pass is the
// slow part, so the sets are small).
const data = join(root, 'data');
writeSynthetic(data, { train: 16, test: 64, seed: 3 });
const archived = join(root, 'archived');
writeSynthetic(archived, { train: 16, test: 64, seed: 3, versions: ['python'], archives: true });
rmSync(join(archived, 'cifar-100-python'), { recursive: true });
const checkpoint = join(root, 'googlenet.safetensors');
const { model, config } = buildModel('googlenet', {}, { generator: new T.Generator(4) });
saveModelCheckpoint(checkpoint, model, 'googlenet', config);
after(() => model.dispose());

const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'eval', ...args], { encoding: 'utf8' });
const direct = (dir: string, split: 'train' | 'test', pipeline: PipelineName, batchSize: number): Promise<EvalResult> =>
  evaluate(model, new Loader({ data: loadSplit(dir, split), pipeline, batchSize }).epoch(0));

const fields = ['checkpoint', 'dataset', 'split', 'norm', 'count', 'correct1', 'correct5', 'top1', 'top5', 'loss'];

let defaultNorm: EvalResult | undefined;

test('micronet eval --json reports what evaluate() computes, normalising with the train statistics by default', async () => {
  const out = run('--checkpoint', checkpoint, '--data', data, '--json');
  assert.equal(out.status, 0, out.stderr);
  const got = JSON.parse(out.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(got), fields);
  defaultNorm = await direct(data, 'test', 'micronet-seed/test', 128);
  assert.deepEqual(got, { checkpoint, dataset: 'cifar100', split: 'test', norm: 'train', ...defaultNorm });
  assert.equal(defaultNorm.count, 64);
});

test("micronet eval --norm test normalises with the test statistics (the id56 notebook's transform)", async () => {
  const out = run('--checkpoint', checkpoint, '--data', data, '--norm', 'test', '--json');
  assert.equal(out.status, 0, out.stderr);
  const got = JSON.parse(out.stdout) as EvalResult;
  const want = await direct(data, 'test', 'id56-notebook/test', 128);
  assert.deepEqual(got, { checkpoint, dataset: 'cifar100', split: 'test', norm: 'test', ...want });
  assert.ok(defaultNorm, 'the default-norm test ran first');
  assert.notEqual(got.loss, defaultNorm.loss);
});

test('micronet eval reads the python archive and the train split, in batches, and prints a summary', async () => {
  const out = run('--checkpoint', checkpoint, '--data', archived, '--split', 'train', '--batch', '8', '--workers', '1');
  assert.equal(out.status, 0, out.stderr);
  const want = await direct(data, 'train', 'micronet-seed/test', 8);
  assert.equal(want.count, 16);
  assert.match(out.stdout, /train split, normalised with train statistics/);
  assert.match(out.stdout, new RegExp(`top-1 +${(100 * want.top1).toFixed(2)}% +\\(${want.correct1} / 16\\)`));
  assert.match(out.stdout, new RegExp(`top-5 +${(100 * want.top5).toFixed(2)}% +\\(${want.correct5} / 16\\)`));
  assert.match(out.stdout, new RegExp(`loss +${want.loss.toFixed(4)} `));
  assert.match(out.stdout, /images +16/);
});

test('micronet eval knows the data set from the checkpoint (or its classes) and refuses one that does not fit', () => {
  const cifar10 = join(root, 'cifar10');
  writeSynthetic(cifar10, { dataset: 'cifar10', train: 16, test: 24, seed: 5 });
  const ten = buildModel('googlenet', { numClasses: 10, width: 0.125 }, { generator: new T.Generator(1) });
  const named = join(root, 'ten-named.safetensors');
  const unnamed = join(root, 'ten-unnamed.safetensors');
  saveModelCheckpoint(named, ten.model, 'googlenet', ten.config, {}, 'cifar10');
  saveModelCheckpoint(unnamed, ten.model, 'googlenet', ten.config);
  ten.model.dispose();
  for (const path of [named, unnamed]) {
    const out = run('--checkpoint', path, '--data', cifar10, '--json');
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(((r) => [r.dataset, r.count])(JSON.parse(out.stdout) as Record<string, unknown>), ['cifar10', 24]);
  }
  const mismatch = run('--checkpoint', checkpoint, '--data', cifar10, '--dataset', 'cifar10');
  assert.equal(mismatch.status, 1);
  assert.match(mismatch.stderr, /classifies 100 classes, CIFAR-10 has 10/);
});

test('micronet eval errors name the missing data, the bad checkpoint, or the bad option', () => {
  const empty = join(root, 'empty');
  const noData = run('--checkpoint', checkpoint, '--data', empty);
  assert.equal(noData.status, 1);
  assert.ok(
    noData.stderr.includes(empty) &&
      noData.stderr.includes('cifar-100-binary.tar.gz') &&
      noData.stderr.includes('micronet data download'),
    noData.stderr,
  );

  const junk = join(root, 'junk.safetensors');
  writeFileSync(junk, 'not a checkpoint at all');
  const bad = run('--checkpoint', junk, '--data', data);
  assert.equal(bad.status, 1);
  assert.ok(bad.stderr.includes(junk), bad.stderr);

  const missing = join(root, 'missing.safetensors');
  const absent = run('--checkpoint', missing, '--data', data);
  assert.equal(absent.status, 1);
  assert.ok(absent.stderr.includes(missing), absent.stderr);

  for (const [args, message] of [
    [['--batch', '0'], /--batch needs a positive integer/],
    [['--norm', 'imagenet'], /--norm must be one of train, test/],
    [[], /needs --checkpoint/],
  ] as const) {
    const r = run(...(args.length ? ['--checkpoint', checkpoint, '--data', data, ...args] : ['--data', data]));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('the eval fast path (micronet eval --fast): BatchNorm folded, each conv and its ReLU one oneDNN call, logits within 1e-4, the same counts', async () => {
  const g = new T.Generator(8);
  const { model: m, config: c } = buildModel('googlenet', { width: 0.25 }, { generator: g });
  // Running statistics away from their initial 0 and 1, as a trained model has them.
  T.noGrad(() => {
    for (let i = 0; i < 3; i++)
      T.tidy(() => {
        m.forward(T.randn([16, 3, 32, 32], { generator: g }).mul(1.5).add(0.3), true);
      });
  });
  const trained = join(root, 'statistics.safetensors');
  saveModelCheckpoint(trained, m, 'googlenet', c);
  const x = T.randn([16, 3, 32, 32], { generator: g });
  const plain = T.noGrad(() => m.forward(x, false));
  const plainBf16 = T.noGrad(() => T.autocast({ deviceType: 'cpu' }, () => m.forward(x, false)).to('float32'));
  const copy = buildModel('googlenet', c).model;
  copy.loadStateDict(m.stateDict());
  const convs = m.namedModules().filter(([, k]) => k instanceof Conv2d).length;
  prepareFastEval(m);
  const modules = m.namedModules().map(([, k]) => k);
  assert.equal(modules.filter((k) => k instanceof FusedConv2d).length, convs, 'every convolution fused');
  assert.equal(modules.filter((k) => k instanceof FusedConv2d && k.relu).length, convs, 'with the ReLU after it');
  assert.equal(
    modules.filter((k) => k instanceof ReLU || k instanceof BatchNorm2d).length,
    0,
    'no ReLU nor BatchNorm left',
  );
  const fast = T.noGrad(() => m.forward(x.contiguous('channels_last'), false));
  const rel = T.tidy(() => fast.sub(plain).abs().max().item() / plain.abs().max().item());
  assert.ok(rel <= 1e-4, `folded logits differ by ${rel} of their scale`);
  m.dispose();
  // In bfloat16 (weights cast once, as autocast casts them per call) the fast path stays within
  // bfloat16's rounding of autocast's logits: measured 3.6e-3 of their scale; bound 2e-2.
  prepareFastEval(copy, { dtype: 'bfloat16' });
  const fastBf16 = T.noGrad(() =>
    T.autocast({ deviceType: 'cpu' }, () => copy.forward(x.contiguous('channels_last'), false)).to('float32'),
  );
  const relBf16 = T.tidy(() => fastBf16.sub(plainBf16).abs().max().item() / plainBf16.abs().max().item());
  console.log(
    `# fast path vs plain: float32 ${rel.toExponential(2)}, bfloat16 ${relBf16.toExponential(2)} of the logits' scale`,
  );
  assert.ok(relBf16 <= 2e-2, `bfloat16 fast logits differ by ${relBf16} of their scale`);
  copy.dispose();

  const slow = run('--checkpoint', trained, '--data', data, '--json');
  const quick = run('--checkpoint', trained, '--data', data, '--json', '--fast');
  assert.equal(quick.status, 0, quick.stderr);
  const [a, b] = [JSON.parse(slow.stdout) as EvalResult, JSON.parse(quick.stdout) as EvalResult];
  assert.deepEqual([b.count, b.correct1, b.correct5], [a.count, a.correct1, a.correct5]);
  assert.ok(Math.abs(b.loss - a.loss) <= 1e-4 * a.loss, `loss ${b.loss} vs ${a.loss}`);
});
