// micronet: train, prune, quantize, evaluate and score compact image classifiers on libtorch.
// Each layer is also its own entry point: micronet/torch, micronet/nn, micronet/models, ...
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
export * as prune from './prune/index.js';
export * as quant from './quant/index.js';
export * as score from './score/index.js';
export * as checkpoint from './checkpoint/index.js';
export * as recipes from './recipes/index.js';
