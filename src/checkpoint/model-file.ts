// Model checkpoints: a safetensors file of the state dict (masks included) whose metadata names
// the model and its configuration, so that it can be rebuilt without any other input. A quantized
// model's plan is recorded too, so that the same quantization-aware structure is rebuilt.
import * as T from '../torch/index.js';
import type { Module, TensorSpec } from '../nn/index.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsHeader } from '../io/safetensors.js';
import { buildModel, modelConfig as checkedModelConfig } from '../models/registry.js';
import { datasetNames, type DatasetName } from '../data/cifar.js';
import type { DataSource } from '../data/synthetic.js';
import { shown, counted } from '../text.js';
import { planOf, prepareQuantized } from '../quant/prepare.js';
import { restoreQuantized } from './quantized-file.js';
import {
  checkpointFormat,
  dataFromMetadata,
  modelFormats,
  modelMetadata,
  planFromMetadata,
  quantizationKey,
  quantizedCheckpointFormat,
  trainStatePrefix,
} from './metadata.js';
import { extractStateDict, loadTensors, readTorchFile } from './torch-file.js';
import { writeTorchFile } from './torch-save.js';

/** A model rebuilt from a checkpoint, with what its metadata says about it. */
export interface ModelCheckpoint {
  model: Module;
  /** The registry's name of the model. */
  name: string;
  /** The model's full configuration (see modelConfig). */
  config: Record<string, unknown>;
  /** Free-form provenance saved with the weights (source file, epoch, accuracy...). */
  info: Record<string, unknown>;
  /** The data set the model was trained for, where the file says. */
  dataset?: DatasetName;
  /** The data the model was trained on (real or generated, and where), where the file says. */
  data?: DataSource;
}

/** Whether a path names a torch.save file (.pth, .pt), which holds the state dict alone. */
export const isTorchFileName = (path: string) => /\.(pth|pt)$/i.test(path);

/**
 * Writes a model checkpoint: the state dict, with metadata that rebuilds the model (and its
 * quantization plan) and free-form info; or, to a .pth or .pt name, the state dict alone as
 * torch.save writes it, for PyTorch (a quantized model's plan has no place there: refused).
 */
export function saveModelCheckpoint(
  path: string,
  model: Module,
  name: string,
  config: object,
  info: Record<string, unknown> = {},
  dataset?: DatasetName,
): void {
  if (isTorchFileName(path)) {
    if (planOf(model))
      throw new Error(`${path}: a quantized model's plan does not fit a torch.save state dict; write .safetensors`);
    writeTorchFile(path, model.stateDict());
    return;
  }
  writeSafetensors(path, model.stateDict(), {
    ...modelMetadata(checkpointFormat, model, name, config, dataset),
    info: JSON.stringify(info),
  });
}

/**
 * Loads a state dict into a freshly built model. A quantized layer's input range that was never
 * observed (+inf, -inf, as quantize() makes it) is legitimate: it is left as built, not refused
 * as non-finite.
 */
function loadModelState(model: Module, tensors: Map<string, T.Tensor>, quantized: boolean, path: string): void {
  model.checkStateDict(tensors, { what: path });
  const skipped = new Set<string>();
  for (const [key, min] of quantized ? tensors : []) {
    if (!key.endsWith('.input_min')) continue;
    const maxKey = `${key.slice(0, -'min'.length)}max`;
    const max = tensors.get(maxKey);
    if (min.numel === 1 && max?.numel === 1 && min.item() === Infinity && max.item() === -Infinity)
      skipped.add(key).add(maxKey);
  }
  model.loadStateDict(new Map([...tensors].filter(([k]) => !skipped.has(k))), { what: path, strict: false });
}

/**
 * The model of a micronet checkpoint in any of its formats (model, training, quantized),
 * rebuilt from the metadata: a quantized model is prepared with its plan before its values load.
 * A quantized checkpoint's model computes with the integer simulation in eval, its ranges frozen.
 */
export function loadModelCheckpoint(path: string): ModelCheckpoint {
  // The header alone says what the file holds: the model it describes is checked against it
  // before anything is built or loaded, so a hostile file costs no more memory than its own size.
  const header = readSafetensorsHeader(path);
  const described = describedModel(header.metadata, path);
  checkFileFitsModel(header, described, path);
  const file = readSafetensors(path);
  try {
    const built = buildModel(described.name, described.config);
    try {
      if (described.plan) {
        try {
          prepareQuantized(built.model, described.plan);
        } catch (e) {
          throw new Error(`${path}: its quantization plan does not fit the model: ${(e as Error).message}`);
        }
      }
      if (described.quantized) restoreQuantized(built.model, file, path);
      else loadModelState(built.model, modelTensors(file.tensors), described.plan !== null, path);
    } catch (e) {
      built.model.dispose();
      throw e;
    }
    return {
      model: built.model,
      name: described.name,
      config: built.config,
      info: described.info,
      ...(described.dataset ? { dataset: described.dataset } : {}),
      ...(described.data ? { data: described.data } : {}),
    };
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

/** A file's tensors without the training state's (optimizer, generators). */
const modelTensors = <V>(tensors: ReadonlyMap<string, V>) =>
  new Map([...tensors].filter(([k]) => !k.startsWith(trainStatePrefix)));

/** What a checkpoint's metadata says the model is; throws naming the file when it says nothing buildable. */
function describedModel(metadata: Record<string, string>, path: string) {
  const { format, model: name, config, info, dataset } = metadata;
  if (!modelFormats.includes(format!) || !name) {
    throw new Error(
      `${path} is a safetensors file but not a micronet model checkpoint (metadata format ${shown(format)}); ` +
        'import foreign weights with `micronet import`',
    );
  }
  const parse = (s: string | undefined, field: string) => {
    let value: unknown;
    try {
      value = s ? JSON.parse(s) : {};
    } catch {
      throw new Error(`${path}: metadata '${field}' is not JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${path}: metadata '${field}' is not a JSON object`);
    return value as Record<string, unknown>;
  };
  if (dataset !== undefined && !datasetNames.includes(dataset as DatasetName))
    throw new Error(`${path}: metadata names an unknown data set ${shown(dataset)}`);
  const plan = planFromMetadata(metadata, path);
  const quantized = format === quantizedCheckpointFormat;
  if (quantized && !plan) throw new Error(`${path}: a quantized checkpoint without its metadata '${quantizationKey}'`);
  let modelConfig: Record<string, unknown>;
  try {
    modelConfig = checkedModelConfig(name, parse(config, 'config'));
  } catch (e) {
    throw new Error(`${path}: its metadata describes no buildable model: ${(e as Error).message}`);
  }
  return {
    name,
    config: modelConfig,
    info: parse(info, 'info'),
    dataset: dataset as DatasetName | undefined,
    data: dataFromMetadata(metadata, path),
    plan,
    quantized,
  };
}

/**
 * The model the metadata describes, sized on the meta device (no memory), against the tensors the
 * header lists: a float file must hold exactly its state dict; a quantized one (its integer
 * weights may be packed to 2 bits) at least 1/64 of its float size.
 */
function checkFileFitsModel(
  header: SafetensorsHeader,
  described: ReturnType<typeof describedModel>,
  path: string,
): void {
  T.shapesOnly(() => {
    const { model } = buildModel(described.name, described.config);
    try {
      // A quantization-aware model's keys depend on BatchNorm folding, which needs a real forward:
      // its size is bounded here and its keys are checked once it is built.
      if (!described.plan) {
        model.checkStateDict(modelTensors(header.tensors), { what: path });
        return;
      }
      const bytes = [...model.stateDict().values()].reduce((sum, t) => sum + t.numel * T.dtypeBytes[t.dtype], 0);
      if (bytes > 64 * header.dataBytes + 2 ** 20)
        throw new Error(
          `${path}: its metadata describes a model of ${bytes.toLocaleString('en-US')} bytes, but the file holds only ` +
            `${header.dataBytes.toLocaleString('en-US')} bytes of tensors: the metadata does not belong to these weights`,
        );
    } finally {
      model.dispose();
    }
  });
}

/**
 * Ones for the `<layer>.mask` entries a state dict lacks (a dense model imported into masked
 * layers); the state dict may hold tensors or only their specs (references into a file).
 */
export function completeMasks(stateDict: ReadonlyMap<string, TensorSpec>, model: Module): Map<string, T.Tensor> {
  const added = new Map<string, T.Tensor>();
  for (const [key, own] of model.stateDict()) {
    if (key.endsWith('.mask') && !stateDict.has(key) && stateDict.has(`${key.slice(0, -'mask'.length)}weight`)) {
      added.set(key, T.keep(T.ones(own.shape)));
    }
  }
  return added;
}

/**
 * A model from a micronet checkpoint, or from a PyTorch one (.pth/.pt, any layout
 * extractStateDict accepts) for the named model and configuration; absent masks become ones. A PyTorch file's
 * tensors are checked against the model before any of them is read, and only the storages of the
 * state dict are read, so a hostile file cannot make it allocate more than the model needs.
 */
export function loadAnyCheckpoint(
  path: string,
  modelName = 'googlenet',
  modelConfig: Record<string, unknown> = {},
): ModelCheckpoint & { note?: string } {
  if (!/\.(pth|pt|tar)$/i.test(path)) return loadModelCheckpoint(path);
  const loaded = readTorchFile(path);
  const { stateDict: refs, from } = extractStateDict(loaded, path);
  const what = `${path} (${from})`;
  const { model, config } = buildModel(modelName, modelConfig);
  const masks = completeMasks(refs, model);
  let tensors = new Map<string, T.Tensor>();
  try {
    model.checkStateDict(new Map<string, TensorSpec>([...refs, ...masks]), { what });
    tensors = loadTensors(refs);
    model.loadStateDict(new Map([...tensors, ...masks]), { what });
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of [...tensors.values(), ...masks.values()]) t.dispose();
  }
  const epoch = loaded instanceof Map && typeof loaded.get('epoch') === 'number' ? loaded.get('epoch') : undefined;
  return {
    model,
    name: modelName,
    config: config as Record<string, unknown>,
    info: { importedFrom: path, ...(epoch !== undefined ? { epoch } : {}) },
    note: `${counted(refs.size, 'tensor')} from ${from}${masks.size ? `; ${masks.size} absent masks set to ones` : ''}`,
  };
}
