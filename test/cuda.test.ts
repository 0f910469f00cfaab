// CUDA: the same API on a GPU, checked against the CPU. Skipped where no GPU is visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';

const { F } = T;
const skip = T.cuda.isAvailable() ? false : 'no CUDA device visible to this build';

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  return T.tidy(() => a.cpu().float().sub(b.cpu().float()).abs().max().item());
}

test('tensors move to the GPU and back', { skip }, () => {
  const x = T.arange(6, undefined, 1, { dtype: 'float32' }).reshape([2, 3]);
  const g = x.to('cuda');
  assert.equal(g.device, 'cuda:0');
  assert.deepEqual(g.mul(2).cpu().data(), new Float32Array([0, 2, 4, 6, 8, 10]));
  assert.equal(T.zeros([2], { device: 'cuda:0' }).device, 'cuda:0');
  assert.deepEqual(g.data(), x.data());
});

test('seeded random tensors are the same on GPU and CPU', { skip }, () => {
  const a = T.randn([100], { generator: new T.Generator(5) });
  const b = T.randn([100], { generator: new T.Generator(5), device: 'cuda' });
  assert.equal(b.device, 'cuda:0');
  assert.deepEqual(b.data(), a.data());
});

test('conv2d forward and backward agree with the CPU', { skip }, () => {
  const g = new T.Generator(0);
  const x = T.randn([4, 8, 16, 16], { generator: g });
  const w = T.randn([16, 8, 3, 3], { generator: g }).mul(0.1);
  const run = (device: T.Device) =>
    T.tidy(() => {
      const xd = x.to(device).detach().requiresGrad_();
      const wd = w.to(device).detach().requiresGrad_();
      const y = F.relu(F.conv2d(xd, wd, null, { padding: 1 }));
      y.pow(2).mean().backward();
      return { y: y.detach(), gx: xd.grad!, gw: wd.grad! };
    });
  const cpu = run('cpu');
  const gpu = run('cuda');
  // cuDNN may use TF32 and other summation orders.
  assert.ok(maxDiff(cpu.y, gpu.y) < 2e-2, 'output');
  assert.ok(maxDiff(cpu.gx, gpu.gx) < 1e-3, 'input gradient');
  assert.ok(maxDiff(cpu.gw, gpu.gw) < 1e-3, 'weight gradient');
});

test('float16 and bfloat16 autocast on the GPU', { skip }, () => {
  const x = T.randn([8, 32], { generator: new T.Generator(1), device: 'cuda' });
  const w = T.randn([16, 32], { generator: new T.Generator(2), device: 'cuda' });
  const half = T.autocast({ deviceType: 'cuda', dtype: 'float16' }, () => F.linear(x, w));
  const bf = T.autocast({ deviceType: 'cuda', dtype: 'bfloat16' }, () => F.linear(x, w));
  assert.equal(half.dtype, 'float16');
  assert.equal(bf.dtype, 'bfloat16');
  const exact = F.linear(x, w);
  assert.ok(maxDiff(half, exact) < 0.05);
  assert.ok(maxDiff(bf, exact) < 0.3);
  assert.equal(T.isAutocastEnabled('cuda'), false);
});

test('errors on the GPU are JS errors too', { skip }, () => {
  assert.throws(
    () => T.ones([2], { device: 'cuda' }).add(T.ones([2])),
    /Expected all tensors to be on the same device/,
  );
});

test("the CUDA generator's state is saved in training checkpoints and restored on resume", { skip }, async () => {
  const { generatedSplit } = await import('../src/data/index.js');
  const { applyOverrides, findRecipe } = await import('../src/recipes/index.js');
  const { readSafetensors } = await import('../src/io/safetensors.js');
  const { train } = await import('../src/train/trainer.js');
  const { lastCheckpoint } = await import('../src/checkpoint/run-dir.js');
  const { scratchDir } = await import('./support/scratch.js');
  // Restoring a state replays the same dropout draws on the GPU.
  T.manualSeed(3);
  const generator = T.Generator.default('cuda');
  const saved = generator.getState();
  const draw = () =>
    T.noGrad(() =>
      F.dropout(T.ones([1000], { device: 'cuda' }), 0.5, true)
        .cpu()
        .data(),
    );
  const first = draw();
  generator.setState(saved);
  assert.deepEqual(draw(), first);

  const recipe = applyOverrides(findRecipe('smoke'), [
    'model.config.width=0.0625',
    'data.batchSize=16',
    'data.workers=0',
    'epochs=1',
    'schedule.warmupEpochs=0',
    'schedule.milestones=[1]',
    'pruning.events=[]',
  ]);
  const outDir = scratchDir();
  const run = await train(recipe, {
    dataDir: '',
    outDir,
    device: 'cuda',
    data: { train: generatedSplit(32, 1, 'train'), test: generatedSplit(16, 1, 'test') },
  });
  run.model.dispose();
  const keys = [...readSafetensors(lastCheckpoint(outDir)).tensors.keys()];
  assert.ok(
    keys.includes('#rng/default') && keys.includes('#rng/cuda:0'),
    keys.filter((k) => k.startsWith('#rng')).join(', '),
  );
});

test('a captured training step trains exactly as the eager one: warm-up lr changes, a pruning event, an optimizer reset', {
  skip,
}, async () => {
  const { buildModel } = await import('../src/models/registry.js');
  const { findRecipe } = await import('../src/recipes/index.js');
  const { SGD } = await import('../src/optim/sgd.js');
  type SgdConfig = import('../src/optim/sgd.js').SgdConfig;
  const { CudaStep } = await import('../src/train/cuda-step.js');
  const { StepMeter } = await import('../src/train/step-meter.js');
  const { applyMasks, pruneByStd } = await import('../src/prune/prune.js');
  const recipe = findRecipe('micronet-seed');
  const steps = 50,
    pruneAt = 20,
    batch = 16;
  const lrAt = (i: number) => 0.1 * Math.min(1, (i + 1) / 30); // a warm-up: a new rate every step up to step 30
  const g = new T.Generator(7);
  const xs = Array.from({ length: steps }, () => T.keep(T.randn([batch, 3, 32, 32], { generator: g })));
  const ys = Array.from({ length: steps }, () => T.keep(T.randint(0, 100, [batch], { generator: g })));
  const run = (capture: boolean) => {
    T.manualSeed(11); // the same dropout draws in both runs
    const { model } = buildModel(
      'googlenet',
      { ...recipe.model.config, width: 0.125 },
      { generator: new T.Generator(3) },
    );
    model.to({ device: 'cuda' });
    const optimizer = new SGD(model.namedParameters(), recipe.optimizer as SgdConfig);
    const stream = new T.CudaStream();
    const fellBack: string[] = [];
    const step = new CudaStep('cuda', batch, capture, (why) => fellBack.push(why));
    const meter = new StepMeter('cuda', steps);
    const losses = stream.run(() => {
      for (let i = 0; i < steps; i++) {
        if (i === pruneAt) {
          pruneByStd(model, 'conv', 0.25);
          optimizer.reset();
          applyMasks(model, optimizer);
          step.invalidate();
        }
        T.tidy(() =>
          meter.record(step.run(model, optimizer, recipe, xs[i]!, ys[i]!, lrAt(i)), {
            batch: i,
            size: batch,
            lr: lrAt(i),
          }),
        );
      }
      return meter.read().steps.map((s) => s.loss);
    });
    meter.dispose();
    stream.run(() => step.dispose());
    assert.deepEqual(fellBack, []);
    return { model, losses };
  };
  // GPU kernels may sum in any order (atomics), and this small network amplifies the last bits
  // within a few steps: two eager runs part as much as eager and captured do. Deterministic
  // kernels make the comparison exact.
  T.setDeterministic(true);
  let eager: ReturnType<typeof run>, captured: ReturnType<typeof run>;
  try {
    eager = run(false);
    captured = run(true);
  } finally {
    T.setDeterministic(false);
  }
  captured.losses.forEach((l, i) =>
    assert.ok(
      Math.abs(l - eager.losses[i]!) <= 1e-5 * Math.abs(eager.losses[i]!) + 1e-6,
      `step ${i}: loss ${l} vs eager ${eager.losses[i]}`,
    ),
  );
  let worst = 0,
    worstKey = '';
  for (const [key, ours] of captured.model.stateDict()) {
    const theirs = eager.model.stateDict().get(key)!;
    if (key.endsWith('mask')) {
      assert.equal(maxDiff(ours, theirs), 0, `${key}: masks differ`);
      continue;
    }
    const rel = T.tidy(() => maxDiff(ours, theirs) / Math.max(theirs.float().abs().max().item(), 1e-12));
    if (rel > worst) {
      worst = rel;
      worstKey = key;
    }
  }
  console.log(
    `captured vs eager after ${steps} steps: largest relative difference ${worst.toExponential(2)} (${worstKey})`,
  );
  assert.ok(worst <= 1e-5, `${worstKey}: ${worst}`);
});
