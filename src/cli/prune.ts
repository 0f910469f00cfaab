// `micronet prune`: one pruning pass over a checkpoint.
import { modelOut, threadsOption, useThreads } from './options.js';
import { counted } from '../text.js';
import { isTorchFileName, loadAnyCheckpoint, saveModelCheckpoint } from '../checkpoint/model-file.js';
import { pruneByStd, sparsity, type LayerSelection } from '../prune/prune.js';
import { defineCommand } from './command.js';

export const pruneCommand = defineCommand({
  name: 'prune',
  summary: 'prune a checkpoint once by magnitude: |w| < q * std(w) set to zero in the masks',
  options: {
    checkpoint: { type: 'string', help: 'a micronet checkpoint (model or training) or a PyTorch .pth', required: true },
    out: {
      type: 'string',
      help: "the pruned checkpoint to write: .safetensors (micronet's) or .pth (torch.save's state dict)",
      required: true,
    },
    q: { type: 'number', help: "threshold as a multiple of each layer's weight std", default: 0.25 },
    layers: { type: 'string', help: 'conv, linear, all, or comma-separated layer names', default: 'all' },
    model: { type: 'string', help: 'the network of a .pth checkpoint', default: 'googlenet' },
    threads: threadsOption,
    json: {
      type: 'boolean',
      help: 'print one JSON object (each layer pruned, the sparsity, the file) instead of lines',
    },
  },
  run(o) {
    useThreads(o.threads);
    modelOut(o.out);
    const selection: LayerSelection = ['conv', 'linear', 'all'].includes(o.layers)
      ? (o.layers as 'conv' | 'linear' | 'all')
      : o.layers.split(',');
    const { model, name, config, info, dataset } = loadAnyCheckpoint(o.checkpoint, o.model);
    try {
      const results = pruneByStd(model, selection, o.q);
      const s = sparsity(model);
      const provenance = { ...info, prunedFrom: o.checkpoint, q: o.q, layers: o.layers };
      saveModelCheckpoint(o.out, model, name, config, provenance, dataset);
      if (o.json) {
        const layers = results.map(({ name, threshold, before, after, numel }) => ({
          name,
          threshold,
          before,
          after,
          numel,
        }));
        console.log(
          JSON.stringify({ checkpoint: o.checkpoint, q: o.q, layers, sparsity: s.zeros / s.total, out: o.out }),
        );
        return;
      }
      for (const r of results)
        console.log(
          `${r.name.padEnd(12)} threshold ${r.threshold.toExponential(3)}  kept ${r.after.toLocaleString('en-US')} of ${r.numel.toLocaleString('en-US')} (${((100 * r.after) / r.numel).toFixed(1)}%)`,
        );
      console.log(
        `${counted(results.length, 'layer')} pruned; conv/linear sparsity now ${((100 * s.zeros) / s.total).toFixed(2)}% -> ${o.out}`,
      );
      if (isTorchFileName(o.out))
        console.log(
          `${o.out} is a torch.save state dict (torch.load(path, weights_only=True)); back to micronet: ` +
            `micronet import ${o.out} --model ${name} --config '${JSON.stringify(config)}' --out FILE.safetensors`,
        );
    } finally {
      model.dispose();
    }
  },
});
