// What every micronet safetensors file says about itself in its metadata: its format, and the
// model it holds (name, configuration, quantization plan, data set), so that the model can be
// rebuilt from the file alone. The formats themselves live beside this module.
import type { Module } from '../nn/index.js';
import type { DatasetName } from '../data/cifar.js';
import type { DataSource } from '../data/synthetic.js';
import { checkQuantizationPlan, planOf, type QuantizationPlan } from '../quant/prepare.js';

/** The `format` metadata of a model checkpoint. */
export const checkpointFormat = 'micronet-model/1';
/** Training checkpoints (train-file.ts) hold a model too, beside state under keys starting with '#'. */
export const trainCheckpointFormat = 'micronet-train/1';
/** The first character of every key of a training checkpoint that is not the model's. */
export const trainStatePrefix = '#';
/** Quantized checkpoints (quantized-file.ts): integer weights and their scales, for deployment. */
export const quantizedCheckpointFormat = 'micronet-quantized/1';
export const modelFormats = [checkpointFormat, trainCheckpointFormat, quantizedCheckpointFormat];
/** The metadata key of a quantized model's plan (JSON of its QuantizationPlan), in every format. */
export const quantizationKey = 'quantization';

/** The metadata recording a model's quantization plan: {} for a float model. Every checkpoint format carries it. */
export function quantizationMetadata(model: Module): Record<string, string> {
  const plan = planOf(model);
  return plan ? { [quantizationKey]: JSON.stringify(plan) } : {};
}

/** The metadata key of the data a model was trained on (JSON of its DataSource); optional when read. */
export const dataKey = 'data';

/** Whether a value is a DataSource. */
export const isDataSource = (v: unknown): v is DataSource =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as DataSource).dir === 'string' &&
  typeof (v as DataSource).generated === 'boolean';

/**
 * The metadata that rebuilds a model: the format, the model's name and configuration, its plan if
 * quantized, its data set, and the data it was trained on where known.
 */
export function modelMetadata(
  format: string,
  model: Module,
  name: string,
  config: object,
  dataset?: DatasetName,
  data?: DataSource,
): Record<string, string> {
  return {
    format,
    model: name,
    config: JSON.stringify(config),
    ...quantizationMetadata(model),
    ...(dataset ? { dataset } : {}),
    ...(data ? { [dataKey]: JSON.stringify({ dir: data.dir, generated: data.generated }) } : {}),
  };
}

/** A metadata value that holds JSON, parsed; undefined where the file has no such key. */
function jsonMetadata(metadata: Record<string, string>, key: string, path: string): unknown {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path}: metadata '${key}' is not JSON`);
  }
}

/** The data a checkpoint's metadata says its model was trained on; undefined where it does not say (files of earlier releases). */
export function dataFromMetadata(metadata: Record<string, string>, path: string): DataSource | undefined {
  const value = jsonMetadata(metadata, dataKey, path);
  if (value === undefined) return undefined;
  if (!isDataSource(value)) throw new Error(`${path}: metadata '${dataKey}' is not {dir, generated}`);
  return { dir: value.dir, generated: value.generated };
}

/** The plan a checkpoint's metadata records (null: a float model), its shape and bits checked. */
export function planFromMetadata(metadata: Record<string, string>, path: string): QuantizationPlan | null {
  const value = jsonMetadata(metadata, quantizationKey, path);
  if (value === undefined) return null;
  const problems = checkQuantizationPlan(value);
  if (problems.length)
    throw new Error(`${path}: metadata '${quantizationKey}' is no valid quantization plan: ${problems.join('; ')}`);
  const plan = value as QuantizationPlan;
  // Only the fields a plan has, whatever else the file added.
  return {
    layers: Object.fromEntries(Object.entries(plan.layers).map(([n, b]) => [n, { weight: b.weight, input: b.input }])),
    averagingConstant: plan.averagingConstant,
  };
}
