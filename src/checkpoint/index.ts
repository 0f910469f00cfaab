// Everything a run leaves on disk: micronet's safetensors formats (model, training and integer
// checkpoints), the metrics file, the run directory, and PyTorch's torch.save files.
export { checkpointFormat, trainCheckpointFormat, quantizedCheckpointFormat } from './metadata.js';
export {
  loadModelCheckpoint,
  loadAnyCheckpoint,
  saveModelCheckpoint,
  completeMasks,
  type ModelCheckpoint,
} from './model-file.js';
export { saveQuantizedCheckpoint } from './quantized-file.js';
export { readTrainState, type TrainState, type Position } from './train-file.js';
export { metricsFormat, metricTags, stepTags, type EpochMetrics } from './metrics.js';
export {
  lastCheckpoint,
  bestCheckpoint,
  quantizedCheckpoint,
  metricsFile,
  RunDirectory,
  RunLockedError,
} from './run-dir.js';
export { readTorchFile, extractStateDict, loadTensors, materialize, TensorRef } from './torch-file.js';
