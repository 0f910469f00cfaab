// micronet: train, prune, quantize, evaluate and score compact image classifiers on libtorch.
// Each layer is also its own entry point: micronet/torch, micronet/nn, micronet/models, ...
/** Tensors over libtorch: creation, operators, autograd, autocast, scopes, randomness. */
export * as torch from './torch/index.js';
/** Modules and layers with PyTorch's state_dict names. */
export * as nn from './nn/index.js';
/** Networks by name, and the seed entry's GoogLeNet. */
export * as models from './models/index.js';
/** CIFAR data: readers, download, transforms, pipelines, the loader, synthetic sets. */
export * as data from './data/index.js';
/** The trainer and its pieces: schedules, losses, steps, evaluation, data parallelism. */
export * as train from './train/index.js';
/** Magnitude pruning with masks. */
export * as prune from './prune/index.js';
/** Optimizers (SGD, AdamW) with PyTorch's exact semantics, by name. */
export * as optim from './optim/index.js';
/** Quantization-aware training: PyTorch's QAT numerics, BatchNorm folding, integer checkpoints. */
export * as quant from './quant/index.js';
/** MicroNet scoring: storage and operations under the challenge's rules or the entry's own scorer. */
export * as score from './score/index.js';
/** What a run leaves on disk: model, training and integer checkpoints, metrics, the run directory; PyTorch's torch.save files. */
export * as checkpoint from './checkpoint/index.js';
/** Training recipes: the built-in ones, validation, overrides. */
export * as recipes from './recipes/index.js';
/** Deployment: ONNX export (float, or QDQ int8 for quantized models) and onnxruntime sessions. */
export * as deploy from './deploy/index.js';
/** Seeing runs: the HTML report, the run summary, TensorBoard event files. */
export * as report from './report/index.js';
