// Quantization: PyTorch's QAT numerics, BatchNorm folding, plans (integer checkpoints: micronet/checkpoint).
export { minBits, maxBits, signedRange, unsignedRange, type Range } from '../nn/fake-quant.js';
export {
  foldBatchNorm,
  prepareQuantized,
  planFor,
  planOf,
  setObserving,
  setIntegerSimulation,
  setCalibrating,
  type QuantizationConfig,
  type QuantizationPlan,
} from './prepare.js';
export { calibrate } from './calibrate.js';
