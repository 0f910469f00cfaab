// Prune a checkpoint by magnitude (|w| < q * std of its layer) and score it under the MicroNet
// rules, before and after. Usage: node dist/examples/prune-and-score.js CHECKPOINT [Q] [OUT]
import { loadAnyCheckpoint, saveModelCheckpoint } from 'micronet/checkpoint';
import { pruneByStd, sparsity } from 'micronet/prune';
import { scoreModel } from 'micronet/score';

const [path, q = '0.25', out] = process.argv.slice(2);
if (!path) {
  console.error('usage: prune-and-score CHECKPOINT [Q] [OUT]');
  process.exit(2);
}
const { model, name, config, dataset } = loadAnyCheckpoint(path);
using _model = model;
const before = scoreModel(model, { rules: 'official', bits: 16 });
pruneByStd(model, 'all', Number(q));
const after = scoreModel(model, { rules: 'official', bits: 16 });
const { zeros, total } = sparsity(model);
console.log(`sparsity ${((100 * zeros) / total).toFixed(2)}% of ${total} weights`);
console.log(
  `score ${before.score.toFixed(6)} -> ${after.score.toFixed(6)} (params ${Math.round(before.params)} -> ${Math.round(after.params)})`,
);
if (out) saveModelCheckpoint(out, model, name, config, { prunedFrom: path, q: Number(q) }, dataset);
