// `micronet score`: MicroNet storage, operations and score of a model or checkpoint.
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { buildModel, modelNames } from '../models/registry.js';
import { scoreModel } from '../score/index.js';
import { formatReport } from '../score/format.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

export const scoreCommand = defineCommand({
  name: 'score',
  summary: 'count storage and operations under the official or the entry\'s (id56) rules, per layer',
  options: {
    checkpoint: { type: 'string', help: 'a micronet checkpoint (.safetensors) or a PyTorch one (.pth)' },
    model: { type: 'string', help: `the model to score dense, or of a .pth checkpoint (${modelNames().join(', ')})`, default: 'googlenet' },
    rules: { type: 'string', choices: ['official', 'id56'], help: 'counting rules', default: 'official' },
    bits: { type: 'string', choices: ['16', '32'], help: '16: the freebie for unquantised models; 32: none', default: '16' },
    accuracy: { type: 'number', help: 'top-1 accuracy in percent, to check the 80% threshold' },
    json: { type: 'boolean', help: 'print one JSON object instead of the table', default: false },
  },
  run(options) {
    if (options._.length) throw new UsageError(`unexpected argument '${options._[0]}'`);
    if (options.accuracy !== undefined && !(options.accuracy >= 0 && options.accuracy <= 100)) {
      throw new UsageError(`--accuracy is a percentage in [0, 100], got ${options.accuracy}`);
    }
    const { model } = options.checkpoint ? loadAnyCheckpoint(options.checkpoint, options.model) : buildModel(options.model);
    // Without a checkpoint the architecture is scored: dense, whatever its random weights hold.
    const report = scoreModel(model, { rules: options.rules as 'official' | 'id56', freebie: options.bits === '16', dense: !options.checkpoint });
    model.dispose();
    if (options.json) {
      const { rules, params, bits, mults, adds, ops, score, layers, notes } = report;
      const verdict = options.accuracy === undefined ? {} : { accuracy: options.accuracy, meetsThreshold: options.accuracy >= 80 };  // >= 8,000 of 10,000, no rounding
      console.log(JSON.stringify({ rules, bitWidth: report.bitWidth, params, bits, mults, adds, ops, score, ...verdict, layers, notes }));
    } else {
      console.log(formatReport(report, options.accuracy));
    }
  },
});
