// Checkpoints: micronet's safetensors formats, and PyTorch's torch.save files.
export {
  loadModelCheckpoint, loadAnyCheckpoint, saveModelCheckpoint, completeMasks, checkpointFormat, trainCheckpointFormat,
  quantizedCheckpointFormat, type ModelCheckpoint,
} from './model-file.js';
export { readTorchFile, extractStateDict, loadTensors, materialize, TensorRef } from './torch-file.js';
