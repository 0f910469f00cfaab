// Model checkpoints: a safetensors file of the state dict (masks included) whose metadata names
// the model and its configuration, so that it can be rebuilt without any other input.
import * as T from '../torch/index.js';
import type { Module, TensorSpec } from '../nn/index.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { buildModel } from '../models/registry.js';
import { datasets, type DatasetName } from '../data/cifar.js';
import { extractStateDict, loadTensors, readTorchFile } from './torch-file.js';

export const checkpointFormat = 'micronet-model/1';
/** Training checkpoints (src/train/state.ts) hold a model too, beside state under keys starting with '#'. */
export const trainCheckpointFormat = 'micronet-train/1';
export const trainStatePrefix = '#';

export interface ModelCheckpoint {
  model: Module;
  name: string;
  config: Record<string, unknown>;
  /** Free-form provenance saved with the weights (source file, epoch, accuracy...). */
  info: Record<string, unknown>;
  /** The data set the model was trained for, where the file says. */
  dataset?: DatasetName;
}

export function saveModelCheckpoint(path: string, model: Module, name: string, config: object, info: Record<string, unknown> = {}, dataset?: DatasetName): void {
  writeSafetensors(path, model.stateDict(), {
    format: checkpointFormat, model: name, config: JSON.stringify(config), info: JSON.stringify(info), ...(dataset ? { dataset } : {}),
  });
}

export function loadModelCheckpoint(path: string): ModelCheckpoint {
  const file = readSafetensors(path);
  try {
    const { format, model: name, config, info, dataset } = file.metadata;
    if ((format !== checkpointFormat && format !== trainCheckpointFormat) || !name) {
      throw new Error(`${path} is a safetensors file but not a micronet model checkpoint (metadata format ${JSON.stringify(format)}); `
        + 'import foreign weights with `micronet import`');
    }
    const parse = (s: string | undefined, field: string) => {
      try { return s ? JSON.parse(s) as Record<string, unknown> : {}; } catch { throw new Error(`${path}: metadata '${field}' is not JSON`); }
    };
    if (dataset !== undefined && !(dataset in datasets)) throw new Error(`${path}: metadata names an unknown data set ${JSON.stringify(dataset)}`);
    let built: ReturnType<typeof buildModel>;
    try {
      built = buildModel(name, parse(config, 'config'));
    } catch (e) {
      throw new Error(`${path}: its metadata describes no buildable model: ${(e as Error).message}`);
    }
    try {
      built.model.loadStateDict(new Map([...file.tensors].filter(([k]) => !k.startsWith(trainStatePrefix))), { what: path });
    } catch (e) {
      built.model.dispose();
      throw e;
    }
    return { model: built.model, name, config: built.config, info: parse(info, 'info'), ...(dataset ? { dataset: dataset as DatasetName } : {}) };
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

/**
 * Ones for the `<layer>.mask` entries a state dict lacks (a dense model imported into masked
 * layers); the state dict may hold tensors or only their specs (references into a file).
 */
export function completeMasks(stateDict: ReadonlyMap<string, TensorSpec>, model: Module): Map<string, T.Tensor> {
  const added = new Map<string, T.Tensor>();
  for (const [key, own] of model.stateDict()) {
    if (key.endsWith('.mask') && !stateDict.has(key) && stateDict.has(key.slice(0, -'mask'.length) + 'weight')) {
      added.set(key, T.keep(T.ones(own.shape)));
    }
  }
  return added;
}

/**
 * A model from a micronet checkpoint, or from a PyTorch one (.pth/.pt, any layout
 * extractStateDict accepts) for the named model; absent masks become ones. A PyTorch file's
 * tensors are checked against the model before any of them is read, and only the storages of the
 * state dict are read, so a hostile file cannot make it allocate more than the model needs.
 */
export function loadAnyCheckpoint(path: string, modelName = 'googlenet'): ModelCheckpoint & { note?: string } {
  if (!/\.(pth|pt|tar)$/i.test(path)) return loadModelCheckpoint(path);
  const loaded = readTorchFile(path);
  const { stateDict: refs, from } = extractStateDict(loaded, path);
  const what = `${path} (${from})`;
  const { model, config } = buildModel(modelName);
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
    model, name: modelName, config: config as Record<string, unknown>,
    info: { importedFrom: path, ...(epoch !== undefined ? { epoch } : {}) },
    note: `${refs.size} tensors from ${from}${masks.size ? `; ${masks.size} absent masks set to ones` : ''}`,
  };
}
