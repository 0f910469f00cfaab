// `micronet score`: MicroNet storage, operations and score of a model or checkpoint.
import { threadsOption, useThreads } from './options.js';
import { loadAnyCheckpoint } from '../checkpoint/model-file.js';
import { buildModel, modelNames } from '../models/registry.js';
import {
  checkPrecision,
  defaultBits,
  ruleNames,
  scoreModel,
  top1Bar,
  type Rules,
  type ScoreReport,
} from '../score/index.js';
import { formatReport } from '../score/format.js';
import { UsageError } from './args.js';
import { defineCommand } from './command.js';

/** `--bits`: an integer width in 1..32 or `model`; undefined when not given. */
function parseBits(raw: string | undefined): number | 'model' | undefined {
  if (raw === undefined || raw === 'model') return raw;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 32)) throw new UsageError(`--bits takes an integer in 1..32 or 'model', not '${raw}'`);
  return n;
}

export const scoreCommand = defineCommand({
  name: 'score',
  summary: "count storage and operations under the official or the entry's (id56) rules, per layer",
  options: {
    checkpoint: { type: 'string', help: 'a micronet checkpoint (.safetensors) or a PyTorch one (.pth)' },
    model: {
      type: 'string',
      help: `the model to score dense, or of a .pth checkpoint (${modelNames().join(', ')})`,
      default: 'googlenet',
    },
    rules: { type: 'string', choices: ruleNames, help: 'counting rules', default: 'official' },
    bits: {
      type: 'string',
      help:
        'N (1..32): every parameter and multiply at N bits (16: the freebie, unquantized models only; 32: none; less: what-if); ' +
        'model: quantized layers at their own bits, the rest 32-bit (default: model for a quantized model, else 16)',
    },
    accuracy: { type: 'number', help: 'top-1 accuracy in percent, to check the 80% threshold' },
    json: { type: 'boolean', help: 'print one JSON object instead of the table', default: false },
    threads: threadsOption,
  },
  run(options) {
    useThreads(options.threads);
    if (options.accuracy !== undefined && !(options.accuracy >= 0 && options.accuracy <= 100)) {
      throw new UsageError(`--accuracy is a percentage in [0, 100], got ${options.accuracy}`);
    }
    const asked = parseBits(options.bits);
    const { model } = options.checkpoint
      ? loadAnyCheckpoint(options.checkpoint, options.model)
      : buildModel(options.model);
    let report: ScoreReport;
    try {
      const bits = asked ?? defaultBits(model);
      try {
        checkPrecision(model, bits); // the freebie on a quantized model is a usage error here
      } catch (e) {
        throw new UsageError(`--bits ${bits}: ${(e as Error).message}`);
      }
      // Without a checkpoint the architecture is scored: dense, whatever its random weights hold.
      report = scoreModel(model, { rules: options.rules as Rules, bits, dense: !options.checkpoint });
    } finally {
      model.dispose();
    }
    if (options.json) {
      const { rules, bitWidth, params, bits, mults, adds, ops, score, layers, notes } = report;
      const verdict =
        options.accuracy === undefined
          ? {}
          : { accuracy: options.accuracy, meetsThreshold: options.accuracy >= 100 * top1Bar }; // >= 8,000 of 10,000, no rounding
      console.log(
        JSON.stringify({ rules, bitWidth, params, bits, mults, adds, ops, score, ...verdict, layers, notes }),
      );
    } else {
      console.log(formatReport(report, options.accuracy));
    }
  },
});
