// Prints the README's model table: each registered network at its default configuration (100
// classes), dense and after the seed entry's pruning schedule (12 events, conv and linear
// alternating, q = 0.25 x each layer's weight std) applied to its initial weights, scored under
// the challenge's rules at 16 and 8 bits. Run after `npm run build`: node scripts/zoo-table.mjs
import { buildModel, modelNames } from '../dist/src/models/registry.js';
import { pruneByStd, sparsity } from '../dist/src/prune/index.js';
import { scoreModel } from '../dist/src/score/index.js';
import * as T from '../dist/src/torch/index.js';

const events = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'conv' : 'linear'));
const m = (n) => `${(n / 1e6).toFixed(2)}M`;
const g = (n) => `${(n / 1e9).toFixed(3)}G`;

console.log(
  '| model | params | ops (16-bit) | score 16-bit | score 8-bit | pruned: sparsity | params | ops (16-bit) | score 16-bit | score 8-bit |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const name of modelNames()) {
  const { model } = buildModel(name, {}, { generator: new T.Generator(0) });
  const scores = () => [16, 8].map((bits) => scoreModel(model, { rules: 'official', bits }));
  const [dense16, dense8] = scores();
  for (const layers of events) pruneByStd(model, layers, 0.25);
  const [pruned16, pruned8] = scores();
  const s = sparsity(model);
  console.log(
    `| ${name} | ${m(dense16.params)} | ${g(dense16.ops)} | ${dense16.score.toFixed(4)} | ${dense8.score.toFixed(4)} | ` +
      `${((100 * s.zeros) / s.total).toFixed(1)}% | ${m(pruned16.params)} | ${g(pruned16.ops)} | ${pruned16.score.toFixed(4)} | ${pruned8.score.toFixed(4)} |`,
  );
  model.dispose();
}
