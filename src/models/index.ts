// Networks by name (the registry, typed by name), the seed entry's GoogLeNet and each network's configuration type.
export {
  buildModel,
  modelConfig,
  findModel,
  modelNames,
  type ModelEntry,
  type ModelConfigs,
  type ModelName,
  type ConfigOf,
  type ConfigInput,
  type KnownName,
} from './registry.js';
export { GoogLeNet, defaultGoogLeNetConfig, checkGoogLeNetConfig, type GoogLeNetConfig } from './googlenet.js';
export type { WideResNetConfig } from './wide-resnet.js';
export type { DenseNetConfig } from './densenet.js';
export type { NasNetConfig } from './nasnet.js';
