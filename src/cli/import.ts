// `micronet import`: a PyTorch checkpoint (torch.save) to a micronet model checkpoint.
import { completeMasks, saveModelCheckpoint } from '../checkpoint/model-file.js';
import { extractStateDict, readTorchFile } from '../checkpoint/torch-file.js';
import { buildModel, modelNames } from '../models/registry.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

export const importCommand = defineCommand({
  name: 'import',
  summary: 'convert a PyTorch checkpoint (.pth from torch.save) into a micronet .safetensors checkpoint',
  options: {
    out: { type: 'string', help: 'the .safetensors file to write', required: true },
    model: { type: 'string', help: `the network the weights belong to (${modelNames().join(', ')})`, default: 'googlenet' },
  },
  run(options) {
    const [source, ...extra] = options._;
    if (!source || extra.length) throw new UsageError('usage: micronet import <file.pth> --out <file.safetensors> [--model NAME]');
    const loaded = readTorchFile(source);
    const { stateDict, from } = extractStateDict(loaded, source);
    const { model, config } = buildModel(options.model);
    const filled = completeMasks(stateDict, model);
    model.loadStateDict(stateDict, { what: `${source} (${from})` });
    const epoch = loaded instanceof Map && typeof loaded.get('epoch') === 'number' ? loaded.get('epoch') : undefined;
    saveModelCheckpoint(options.out, model, options.model, config, { importedFrom: source, ...(epoch !== undefined ? { epoch } : {}) });
    const weights = stateDict.size;
    for (const t of stateDict.values()) t.dispose();
    console.log(`imported ${weights} tensors from ${source} (${from}) as ${options.model}, ${model.numParameters().toLocaleString('en-US')} parameters`
      + `${filled.length ? `; ${filled.length} absent masks set to ones` : ''} -> ${options.out}`);
    model.dispose();
  },
});
