// `micronet import`: a PyTorch checkpoint (torch.save) to a micronet model checkpoint.
import { loadAnyCheckpoint, saveModelCheckpoint } from '../checkpoint/model-file.js';
import { modelNames } from '../models/registry.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

export const importCommand = defineCommand({
  name: 'import',
  positionals: '<file.pth>',
  summary: 'convert a PyTorch checkpoint (.pth from torch.save) into a micronet .safetensors checkpoint',
  options: {
    out: { type: 'string', help: 'the .safetensors file to write', required: true },
    model: {
      type: 'string',
      help: `the network the weights belong to (${modelNames().join(', ')})`,
      default: 'googlenet',
    },
    config: {
      type: 'string',
      help: 'the network\'s configuration where it is not the default, as JSON, e.g. \'{"depth":16,"width":4}\'',
    },
  },
  run(options) {
    const [source, ...extra] = options._;
    if (!options.out.endsWith('.safetensors'))
      throw new UsageError(`--out ${options.out}: import writes a micronet checkpoint, named .safetensors`);
    if (!source || extra.length)
      throw new UsageError('usage: micronet import <file.pth> --out <file.safetensors> [--model NAME] [--config JSON]');
    if (!/\.(pth|pt|tar)$/i.test(source))
      throw new UsageError(`${source}: expected a torch.save file (.pth, .pt or .tar)`);
    const { model, name, config, info, note } = loadAnyCheckpoint(source, options.model, parseConfig(options.config));
    try {
      saveModelCheckpoint(options.out, model, name, config, info);
      console.log(
        `imported ${note} as ${name}, ${model.numParameters().toLocaleString('en-US')} parameters -> ${options.out}`,
      );
    } finally {
      model.dispose();
    }
  },
});

/** --config: a JSON object of model options. */
function parseConfig(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--config takes a JSON object, e.g. '{"width":4}'; got '${text}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`--config takes a JSON object, e.g. '{"width":4}'; got '${text}'`);
  return value as Record<string, unknown>;
}
