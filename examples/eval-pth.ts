// Evaluate a PyTorch checkpoint (torch.save) of the seed GoogLeNet on the CIFAR-100 test split,
// without Python. Usage: node dist/examples/eval-pth.js MODEL.pth DATA_DIR
import { loadAnyCheckpoint } from 'micronet/checkpoint';
import { Loader, loadSplit } from 'micronet/data';
import { evaluate } from 'micronet/train';

const [pth, dataDir] = process.argv.slice(2);
if (!pth || !dataDir) {
  console.error('usage: eval-pth MODEL.pth DATA_DIR');
  process.exit(2);
}
const { model, note } = loadAnyCheckpoint(pth, 'googlenet');
using _model = model;
const loader = new Loader({ data: loadSplit(dataDir, 'test'), pipeline: 'micronet-seed/test', batchSize: 128 });
const r = await evaluate(model, loader.epoch(0));
await loader.close();
console.log(note);
console.log(
  `top-1 ${(100 * r.top1).toFixed(2)}% (${r.correct1}/${r.count}), top-5 ${(100 * r.top5).toFixed(2)}%, loss ${r.loss.toFixed(4)}`,
);
