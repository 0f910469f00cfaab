// `npm run bench -- ops`: the host cost of one operator call, on tiny CPU tensors where the kernel
// is negligible: ns per call through micronet and through PyTorch (Python) in the same run, one
// thread each. Each repetition times a loop of CALLS calls.
import * as T from '../src/torch/index.js';
import { TorchAnchor } from '../src/bench/anchor.js';
import { median, table, timeSync } from '../src/bench/timing.js';

const { F } = T;
const CALLS = 20_000;

/** The cases, by the name python/anchor.py knows them under; each makes a step of CALLS calls. */
function cases(): [string, () => () => void][] {
  const x = T.keep(T.rand([4, 4]));
  const y = T.keep(T.rand([4, 4]));
  const img = T.keep(T.rand([1, 4, 4, 4]));
  const w = T.keep(T.rand([4, 4, 3, 3]));
  const xs = Array.from({ length: 50 }, () => T.keep(T.rand([4, 4])));
  const ys = Array.from({ length: 50 }, () => T.keep(T.rand([4, 4])));
  const loop = (call: () => void) => () => {
    for (let i = 0; i < CALLS; i++) call();
  };
  return [
    ['x.add(y)', () => loop(() => x.add(y).dispose())],
    ['x.mul_(2)', () => loop(() => x.mul_(2))],
    ['F.relu(x)', () => loop(() => F.relu(x).dispose())],
    ['x.sum()', () => loop(() => x.sum().dispose())],
    ['tidy(x.add(y).mul(y))', () => loop(() => T.tidy(() => x.add(y).mul(y)).dispose())],
    ['conv2d [1,4,4,4]*[4,4,3,3]', () => loop(() => F.conv2d(img, w).dispose())],
    ['foreachAdd_ 50 tensors', () => loop(() => T.foreachAdd_(xs, ys))],
  ];
}

export async function benchOps(options: { reps: number }): Promise<void> {
  const threads = T.getNumThreads();
  T.setNumThreads(1);
  const anchor = new TorchAnchor();
  const rows: string[][] = [];
  try {
    for (const [name, make] of cases()) {
      const step = make();
      // Alternate the two engines in rounds so that drift on a shared machine hits both.
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 0; round < 3; round++) {
        ours.push(...timeSync(step, options.reps, round === 0 ? 2 : 1));
        theirs.push(...(await anchor.time('ops', { case: name, calls: CALLS }, options.reps, 1, round === 0 ? 2 : 1)));
      }
      const a = (median(ours) / CALLS) * 1e9;
      const b = (median(theirs) / CALLS) * 1e9;
      rows.push([name, a.toFixed(0), b.toFixed(0), (b / a).toFixed(2)]);
      process.stdout.write('.');
    }
  } finally {
    anchor.close();
    T.setNumThreads(threads);
  }
  process.stdout.write('\n');
  console.log(
    `ops: host cost per operator call on tiny CPU tensors, 1 thread, ${CALLS} calls per repetition, median of ` +
      `${3 * options.reps} (ratio = PyTorch time / micronet time; >= 1 means micronet is as fast or faster)`,
  );
  console.log(table(['call', 'micronet ns', 'PyTorch ns', 'ratio'], rows));
}
