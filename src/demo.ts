// A short demonstration of the engine until the training recipes land: a small conv net learns a
// generated 10-class image task with SGD, in float32 and then under bfloat16 autocast.
import * as T from './torch/index.js';

const { F } = T;
const classes = 10;

/** Images whose class sets which of 10 fixed colour patterns is mixed into the noise. */
function makeData(g: T.Generator, n: number, patterns: T.Tensor): { x: T.Tensor; y: T.Tensor } {
  return T.tidy(() => {
    const y = T.randint(0, classes, [n], { generator: g });
    const x = patterns.indexSelect(0, y).mul(1.5).add(T.randn([n, 3, 16, 16], { generator: g }));
    return { x, y };
  });
}

function train(precision: 'float32' | 'bfloat16'): void {
  const g = new T.Generator(0);
  const patterns = T.randn([classes, 3, 16, 16], { generator: g });
  const train = makeData(g, 2048, patterns);
  const test = makeData(g, 512, patterns);
  const param = (shape: number[], fanIn: number) =>
    T.keep(T.rand(shape, { generator: g }).mul_(2 / Math.sqrt(fanIn)).sub_(1 / Math.sqrt(fanIn)).requiresGrad_());
  const p = {
    c1: param([32, 3, 3, 3], 27), c2: param([64, 32, 3, 3], 288), fc: param([classes, 64], 64), fcb: param([classes], 64),
  };
  const bn = { m1: T.zeros([32]), v1: T.ones([32]), m2: T.zeros([64]), v2: T.ones([64]) };
  const momentum = Object.values(p).map((t) => T.zerosLike(t));

  const forward = (x: T.Tensor, training: boolean) => T.autocast({ enabled: precision === 'bfloat16' }, () => {
    let h = F.relu(F.batchNorm(F.conv2d(x, p.c1, null, { padding: 1 }), bn.m1, bn.v1, { training }));
    h = F.maxPool2d(h, 2);
    h = F.relu(F.batchNorm(F.conv2d(h, p.c2, null, { padding: 1 }), bn.m2, bn.v2, { training }));
    return F.linear(F.adaptiveAvgPool2d(h, 1).flatten(1), p.fc, p.fcb);
  });

  const batch = 64;
  const steps = 200;
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    const loss = T.tidy(() => {
      const start = (step * batch) % 2048;
      const logits = forward(train.x.narrow(0, start, batch), true);
      const loss = F.crossEntropy(logits, train.y.narrow(0, start, batch), { labelSmoothing: 0.1 });
      loss.backward();
      T.noGrad(() => Object.values(p).forEach((w, i) => {
        momentum[i]!.mul_(0.9).add_(w.grad!).add_(w, 5e-4);
        w.sub_(momentum[i]!, 0.05);
        w.grad = null;
      }));
      return loss.item();
    });
    if (step % 50 === 0 || step === steps - 1) console.log(`  step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const correct = T.tidy(() => T.noGrad(() => forward(test.x, false).argmax(1).eq(test.y).sum().item()));
  console.log(`  ${precision}: test accuracy ${(100 * correct / 512).toFixed(1)}% (chance 10%), `
    + `${(steps * batch / seconds).toFixed(0)} training images/s on ${T.getNumThreads()} threads`);
}

console.log('micronet engine demo: a small conv net on generated 16x16 images');
for (const precision of ['float32', 'bfloat16'] as const) train(precision);
console.log(`live tensors at exit: ${T.liveTensors()}`);
