// Optimizers against torch.optim step for step, through the Optimizer contract: their state saved
// and restored by name, and masked with the weights.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { AdamW, createOptimizer, SGD, type Optimizer, type OptimizerConfig } from '../src/optim/index.js';
import { assertClose, TorchOracle } from './support/oracle.js';

const oracle = new TorchOracle();
after(() => oracle.close());

const shapes = [[8, 4, 3, 3], [8], [10, 8]];
const steps = 6;
const g = new T.Generator(2);
const start = shapes.map((s) => T.keep(T.randn(s, { generator: g })));
/** Per parameter, its gradients of every step stacked: [steps, ...shape]. */
const grads = shapes.map((s) => T.keep(T.randn([steps, ...s], { generator: g })));
const lrs = Array.from({ length: steps }, (_, k) => (0.01 * (1 + k)) / steps);
/** The last parameter has no gradient at the first step: its state and step count start later. */
const gradAt = (i: number, k: number) => (i === 2 && k === 0 ? null : grads[i]!.narrow(0, k, 1).squeeze(0).clone());

/** Runs `steps` updates from `start`; `between` runs after each step. Returns the parameters after every step. */
function run(
  make: (params: [string, T.Tensor][]) => Optimizer,
  between?: (k: number, o: Optimizer) => Optimizer,
): { history: T.Tensor[][]; optimizer: Optimizer } {
  const params = start.map((t, i) => [`p${i}`, T.keep(t.clone())] as [string, T.Tensor]);
  let optimizer = make(params);
  const history: T.Tensor[][] = [];
  for (let k = 0; k < steps; k++) {
    params.forEach(([, p], i) => {
      p.grad = gradAt(i, k);
    });
    optimizer.step(lrs[k]!);
    optimizer.zeroGrad();
    history.push(params.map(([, p]) => T.keep(p.clone())));
    if (between) optimizer = between(k, optimizer);
  }
  return { history, optimizer };
}

/** torch.optim's run of the same steps: the parameters after each step, then the named state of each parameter. */
async function torchRun(construct: string, stateKeys: string[]) {
  const inputs = Object.fromEntries([...start.map((t, i) => [`p${i}`, t]), ...grads.map((t, i) => [`g${i}`, t])]);
  const answer = await oracle.run({
    inputs,
    code: [
      `ps = [p.clone().requires_grad_() for p in (${start.map((_, i) => `p${i}`).join(', ')},)]`,
      `gs = (${grads.map((_, i) => `g${i}`).join(', ')},)`,
      `opt = ${construct}`,
      'out = []',
      `for k, lr in enumerate(${JSON.stringify(lrs)}):`,
      '    for i, p in enumerate(ps): p.grad = None if (i == 2 and k == 0) else gs[i][k].clone()',
      '    opt.param_groups[0]["lr"] = lr',
      '    opt.step()',
      '    out += [p.detach().clone() for p in ps]',
      `out += [opt.state[p][key] for p in ps for key in ${JSON.stringify(stateKeys)}]`,
    ].join('\n'),
  });
  return answer.outputs as Parameters<typeof assertClose>[1][];
}

const tol = { rtol: 1e-6, atol: 1e-7 };

const cases: { name: string; config: OptimizerConfig; torch: string; state: string[] }[] = [
  {
    name: 'SGD (Nesterov, weight decay)',
    config: { name: 'sgd', momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
    torch: 'torch.optim.SGD(ps, lr=0.0, momentum=0.9, weight_decay=5e-4, nesterov=True, foreach=False)',
    state: ['momentum_buffer'],
  },
  {
    name: 'AdamW',
    config: { name: 'adamw', betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.05 },
    torch: 'torch.optim.AdamW(ps, lr=0.0, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, foreach=False)',
    state: ['exp_avg', 'exp_avg_sq', 'step'],
  },
];

for (const c of cases) {
  test(`${c.name} equals ${c.torch.split('(')[0]} step for step, state included`, async () => {
    const theirs = await torchRun(c.torch, c.state);
    const ours = run((params) => createOptimizer(params, c.config));
    ours.history.forEach((params, k) =>
      params.forEach((p, i) => assertClose(p, theirs[k * shapes.length + i]!, tol, `step ${k + 1}, p${i}`)),
    );
    const state = ours.optimizer.state();
    let n = steps * shapes.length;
    for (let i = 0; i < shapes.length; i++) {
      for (const slot of c.state) assertClose(state.get(`${slot}/p${i}`)!, theirs[n++]!, tol, `${slot} of p${i}`);
    }
    assert.deepEqual([...state.keys()], [...state.keys()].sort(), 'state names come in a fixed order');
  });

  test(`${c.name}: state saved after step 3 and loaded into a fresh optimizer continues exactly`, () => {
    const whole = run((params) => createOptimizer(params, c.config));
    const resumed = run(
      (params) => createOptimizer(params, c.config),
      (k, o) => {
        if (k !== 2) return o;
        const fresh = createOptimizer(o.params, c.config);
        fresh.loadState(o.state());
        o.reset();
        return fresh;
      },
    );
    resumed.history.at(-1)!.forEach((p, i) => assert.deepEqual(p.data(), whole.history.at(-1)![i]!.data(), `p${i}`));
  });
}

test('an optimizer refuses state it cannot hold, naming it', () => {
  const params: [string, T.Tensor][] = [['w', T.keep(T.zeros([2, 2]))]];
  const adam = new AdamW(params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  assert.throws(
    () => adam.loadState(new Map([['exp_avg/v', T.zeros([2, 2])]])),
    /AdamW state 'exp_avg\/v' is for an unknown parameter/,
  );
  assert.throws(
    () => adam.loadState(new Map([['exp_avg/w', T.zeros([3])]])),
    /AdamW state 'exp_avg\/w' has shape \[3\], expected \[2,2\]/,
  );
  assert.throws(
    () => adam.loadState(new Map([['momentum_buffer/w', T.zeros([2, 2])]])),
    /AdamW has no state 'momentum_buffer\/w'/,
  );
});

test('maskState zeroes the moments where the mask is 0, and leaves the step count', () => {
  const w = T.keep(T.ones([4]));
  const adam = new AdamW([['w', w]], { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  w.grad = T.tensor(new Float32Array([1, 2, 3, 4]), { shape: [4] });
  adam.step(0.1);
  adam.maskState(new Map([['w', T.tensor(new Float32Array([1, 0, 1, 0]), { shape: [4] })]]));
  const state = adam.state();
  for (const slot of ['exp_avg', 'exp_avg_sq']) {
    const v = state.get(`${slot}/w`)!.data<'float32'>();
    assert.ok(v[0]! > 0 && v[1] === 0 && v[2]! > 0 && v[3] === 0, `${slot}: ${Array.from(v)}`);
  }
  assert.equal(state.get('step/w')!.item(), 1);
});

test('the multi-tensor SGD update equals the per-parameter one: Nesterov, weight decay, a parameter without gradient, a reset', () => {
  const runSgd = (foreach: boolean) =>
    run(
      (params) => new SGD(params, { momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true }, foreach),
      (k, o) => {
        if (k === 2) o.reset();
        return o;
      },
    )
      .history.at(-1)!
      .map((p) => p.data<'float32'>());
  const loop = runSgd(false);
  runSgd(true).forEach((values, i) => assert.deepEqual(values, loop[i], `parameter ${i}`));
  assert.notDeepEqual(loop[0], start[0]!.data());
});
