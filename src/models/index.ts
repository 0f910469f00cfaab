// Networks by name (the registry) and the seed entry's GoogLeNet.
export { buildModel, modelConfig, findModel, modelNames, type ModelEntry } from './registry.js';
export { GoogLeNet, defaultGoogLeNetConfig, checkGoogLeNetConfig, type GoogLeNetConfig } from './googlenet.js';
