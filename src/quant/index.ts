// Quantization: PyTorch's QAT numerics, BatchNorm folding, plans, integer checkpoints.
export { minBits, maxBits, signedRange, unsignedRange, type Range } from './fake-quant.js';
export {
  foldBatchNorm, prepareQuantized, planFor, planOf, setObserving, setIntegerSimulation,
  type QuantizationConfig, type QuantizationPlan,
} from './prepare.js';
export { saveQuantizedCheckpoint } from './quantized-file.js';
